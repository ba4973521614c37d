/**
 * An HTTP proxy in front of moto that can hold, hang or drop chosen AWS calls: what the emulator
 * cannot show (a slow Route 53, an outage right after CreateStack, a lost endpoint). Point one
 * service at it with its own endpoint variable (AWS_ENDPOINT_URL_ROUTE_53, …) or all of them with
 * AWS_ENDPOINT_URL.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { operationOf } from "./counting-proxy.js";

/** forward it; hang (accept, never answer); reset (drop the connection); or forward once the promise settles. */
export type GateAction = "forward" | "hang" | "reset" | Promise<unknown>;

export interface Gate {
  endpoint: string;
  /** Every call seen, as "service:Operation" (Query APIs) or "service:METHOD /path" (REST APIs). */
  seen: string[];
  /** Decides what happens to each call; the default forwards everything. */
  rule: (operation: string) => GateAction;
  close(): Promise<void>;
}

export async function startGate(target: string): Promise<Gate> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const gate: Gate = {
    endpoint: "",
    seen: [],
    rule: () => "forward",
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const operation = operationOf(req.method ?? "", req.url ?? "", req.headers, body.toString());
      gate.seen.push(operation);
      const forward = () => {
        const out = request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on("error", (error) => {
          res.statusCode = 502;
          res.end(String(error));
        });
        out.end(body);
      };
      const action = gate.rule(operation);
      if (action === "forward") forward();
      else if (action === "reset") req.socket.destroy();
      else if (action !== "hang") action.then(forward, forward);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gate.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gate;
}
