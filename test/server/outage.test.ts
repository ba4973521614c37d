/**
 * Issue 7 item 5 (server): a few seconds of AWS outage must not mark a live cluster failed. moto
 * sits behind a small loopback TCP proxy (CuttableProxy) that answers CreateStack by hanging up
 * (moto has made the stack; the server never hears so) and then refuses every connection for a few
 * seconds. The server's job must ride it out — retrying with backoff, finding its own stack by what
 * AWS says — and bring the cluster online with exactly one stack made.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { CloudFormationClient, ListStacksCommand } from "@aws-sdk/client-cloudformation";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import type { Discovery, Moto } from "../helpers/services.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

/**
 * A TCP proxy to moto on a free loopback port. cutAfterCreateStack(ms): the next CreateStack is
 * passed on, its answer dropped (the client sees the connection close: "socket hang up"), and then
 * for `ms` every connection, open or new, is closed at once.
 */
class CuttableProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #downUntil = 0;
  #cutNext = 0;
  cuts = 0;
  port = 0;

  constructor(private readonly target: number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  cutAfterCreateStack(ms: number): void {
    this.#cutNext = ms;
  }

  #down(): boolean {
    return Date.now() < this.#downUntil;
  }

  #accept(client: Socket): void {
    if (this.#down()) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target, "127.0.0.1");
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    let cutting = false;
    client.on("data", (chunk: Buffer) => {
      if (this.#cutNext > 0 && chunk.includes("Action=CreateStack")) cutting = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cutting) {
        // moto made the stack; its answer never arrives, and AWS is gone for a while.
        this.#downUntil = Date.now() + this.#cutNext;
        this.#cutNext = 0;
        this.cuts += 1;
        for (const socket of this.#sockets) socket.destroy();
        return;
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

let moto: Moto;
let discovery: Discovery;
let services: AwsServices;
let proxy: CuttableProxy;
let t: TestServer;

before(async () => {
  // The server talks to AWS through the proxy; the test's own checks go to moto directly.
  services = await startAwsServices({
    processEnv: (started) => {
      proxy = new CuttableProxy(started.port);
      return proxy.start();
    },
  });
  ({ moto, discovery } = services);
  t = await testServer({
    pollIntervalMs: 200,
    env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url, PANDACLUSTER_RETRY_MS: "500" },
  });
});
after(async () => {
  await t?.close();
  await proxy?.stop();
  await services?.stop();
});

describe("AWS outages on the server (issue 7 item 5)", () => {
  it("CreateStack's answer lost, then 4 s of refused connections: the cluster still ends online, one stack", async () => {
    const alice = await t.profile("alice");
    proxy.cutAfterCreateStack(4_000);
    const posted = await t.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers: alice,
      payload: { stack_name: "outage", key_pair: "k", discovery_service: discovery.url, timeout: 5 },
    });
    assert.equal(posted.statusCode, 202, posted.body);
    const done = await eventually(
      async () => {
        const got = (
          await t.server.app.inject({ method: "GET", url: "/clusters/outage", headers: alice })
        ).json();
        return got.status === "creating" ? undefined : got;
      },
      90_000,
      "outage to leave creating",
    );
    assert.equal(proxy.cuts, 1, "the outage never happened: nothing was tested");
    assert.equal(done.status, "online", JSON.stringify(done.reasons));
    const messages = await t.eventMessages(alice, "outage");
    assert.ok(
      messages.some((m) => /trying again/.test(m)),
      `no retry event in: ${messages.join(" | ")}`,
    );
    const stacks = await new CloudFormationClient({ endpoint: moto.endpoint }).send(
      new ListStacksCommand({}),
    );
    assert.equal(
      (stacks.StackSummaries ?? []).filter((s) => s.StackName === "outage").length,
      1,
      "more than one stack was made",
    );
  });
});
