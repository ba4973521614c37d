/**
 * Asking an etcd discovery service for a URL, against local HTTP servers that answer as the
 * service does, or wrongly, or not at all. The real service (etcd + discovery.etcd.io) is used by
 * test/cli/lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import {
  DEFAULT_DISCOVERY_SERVICE,
  discoveryService,
  isDiscoveryUrl,
  newDiscoveryUrl,
} from "../../src/discovery.js";
import { InterruptedError, OperationError } from "../../src/errors.js";

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const token = "0123456789abcdef0123456789abcdef";

describe("newDiscoveryUrl", () => {
  it("asks GET {service}/new?size=N with the cluster's size and returns the URL", async () => {
    const asked: string[] = [];
    const service = await serve((req, res) => {
      asked.push(req.url ?? "");
      res.end(`http://127.0.0.1/${token}\n`);
    });
    assert.equal(await newDiscoveryUrl(service, 12), `http://127.0.0.1/${token}`);
    assert.deepEqual(asked, ["/new?size=12"]);
  });

  it("names the service when it is unreachable, and says nothing was created", async () => {
    const closed = await serve(() => {});
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(newDiscoveryUrl(closed, 3), (error: unknown) => {
      assert.ok(error instanceof OperationError);
      assert.ok(error.message.includes(`the etcd discovery service ${closed} is unreachable (ECONNREFUSED)`));
      assert.match(error.message, /nothing was created/);
      assert.match(error.message, /--discovery-url/);
      return true;
    });
  });

  it("refuses an answer that is not a discovery URL", async () => {
    const service = await serve((_req, res) => res.end("<html>maintenance</html>"));
    await assert.rejects(newDiscoveryUrl(service, 3), /answered something that is not a discovery URL/);
  });

  it("reports the HTTP status of an error, after one retry for a 5xx", async () => {
    let calls = 0;
    const service = await serve((_req, res) => {
      calls += 1;
      res.statusCode = 503;
      res.end("overloaded");
    });
    await assert.rejects(newDiscoveryUrl(service, 3), /answered HTTP 503: overloaded/);
    assert.equal(calls, 2);
  });

  it("an HTML error page is shown as its status and one short line, never whole (issue 7, messages)", async () => {
    const page = `<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n<h1>Bad Gateway</h1>\n${"<p>details</p>\n".repeat(50)}</body></html>`;
    const service = await serve((_req, res) => {
      res.statusCode = 502;
      res.setHeader("content-type", "text/html");
      res.end(page);
    });
    await assert.rejects(newDiscoveryUrl(service, 3), (error: Error) => {
      assert.match(error.message, /answered HTTP 502: 502 Bad Gateway; nothing was created/);
      assert.ok(!error.message.includes("<"), error.message);
      return true;
    });
    const untitled = await serve((_req, res) => {
      res.statusCode = 404;
      res.end("<html><body>\n\n<h1>Not  Found</h1><p>more</p></body></html>");
    });
    await assert.rejects(newDiscoveryUrl(untitled, 3), /answered HTTP 404: Not Found; nothing was created/);
  });

  it("gives up on a service that does not answer in time", async () => {
    const service = await serve(() => {});
    const started = Date.now();
    await assert.rejects(newDiscoveryUrl(service, 3, { timeout_ms: 100 }), /did not answer within 0.1 s/);
    // Two tries of 0.1 s and the 0.5 s pause between them: well under one try of the default 10 s
    // (the bound leaves room for a loaded machine: 1.25 s was measured idle, against 0.7 s of waits).
    assert.ok(Date.now() - started < 9_000, `${Date.now() - started} ms`);
  });

  it("stops at once when interrupted", async () => {
    const service = await serve(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(newDiscoveryUrl(service, 3, { signal: controller.signal }), InterruptedError);
  });
});

describe("discovery settings", () => {
  it("takes the option, then the config, then the public service", () => {
    assert.equal(discoveryService("http://a/", "http://b"), "http://a");
    assert.equal(discoveryService(undefined, "http://b"), "http://b");
    assert.equal(discoveryService(undefined, undefined), DEFAULT_DISCOVERY_SERVICE);
  });

  it("recognises discovery URLs", () => {
    assert.ok(isDiscoveryUrl(`https://discovery.etcd.io/${token}`));
    assert.ok(!isDiscoveryUrl("https://discovery.etcd.io/new"));
    assert.ok(!isDiscoveryUrl(`ftp://x/${token}`));
  });

  it("refuses a service's answer that breaks the --discovery-url rule (issue 7 item 6)", () => {
    for (const bad of [`https://x/a"b/${token}`, `https://x/a%41/${token}`, `https://x/a'b/${token}`]) {
      assert.ok(!isDiscoveryUrl(bad), bad);
    }
  });
});
