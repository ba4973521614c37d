/**
 * An HTTP proxy in front of the moto emulator that counts every AWS request by service and
 * operation ("cloudformation:CreateStack", "route53:POST /2013-04-01/hostedzone"), so that tests
 * and benchmarks count what went over the wire (SDK retries included), whichever process sent it.
 */
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  endpoint: string;
  /** Calls since the last take(), by operation. */
  take(): Map<string, number>;
  /**
   * Every request so far (not reset by take): its operation, body, arrival time, answer's status,
   * and the access key id it was signed with (SigV4 Credential=…), which says whose credentials
   * the sender used.
   */
  readonly log: { operation: string; body: string; at: number; status?: number; accessKeyId?: string }[];
  close(): void;
}

export async function countingProxy(target: string): Promise<CountingProxy> {
  let calls = new Map<string, number>();
  const log: CountingProxy["log"] = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const text = body.toString();
      const operation = operationOf(req.method ?? "", req.url ?? "", req.headers, text);
      calls.set(operation, (calls.get(operation) ?? 0) + 1);
      const entry: CountingProxy["log"][number] = { operation, body: text, at: Date.now() };
      const signer = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
      if (signer) entry.accessKeyId = signer;
      log.push(entry);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          entry.status = answer.statusCode;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", (error) => {
        res.statusCode = 502;
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    take() {
      const taken = calls;
      calls = new Map();
      return taken;
    },
    log,
    close: () => server.close(),
  };
}

/** The service from the SigV4 credential scope; the operation from the Query body or the REST path. */
export function operationOf(
  method: string,
  url: string,
  headers: NodeJS.Dict<string | string[]>,
  body: string,
): string {
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ""));
  const service = scope?.[1] ?? "?";
  const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body)?.[1];
  if (action) return `${service}:${action}`;
  return `${service}:${method} ${url.replace(/\?.*$/, "").replace(/\/(Z|C)?[A-Z0-9]{10,}/g, "/{id}")}`;
}
