/**
 * Prometheus metrics (issue 19), read by a real exposition-format parser
 * (parse-prometheus-text-format): the families the issue names with their types, behind the admin
 * token; after one create, the clusters and jobs gauges (read from the store), the HTTP histogram,
 * the poller's cycles and an open event stream say so; `serve --metrics-port` answers on 127.0.0.1
 * without a token. The library is the fake engine; the AWS call counters are checked against
 * moto in roles-e2e.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import parsePrometheus from "parse-prometheus-text-format";
import { startServer } from "../../src/server/start.js";
import { runCli } from "../helpers/cli.js";
import { freePort } from "../helpers/services.js";
import { FakeEngine } from "./fake-engine.js";
import { ADMIN_TOKEN, admin, eventually, LogCapture, testServer } from "./helpers.js";
import { readEvents } from "./sse.js";

type Families = ReturnType<typeof parsePrometheus>;

function sample(families: Families, name: string, labels: Record<string, string> = {}) {
  return families
    .find((f) => f.name === name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

describe("metrics", () => {
  it("GET /metrics: admin only; the named families, typed; after one create the gauges, the HTTP histogram and the poller say so", async () => {
    const t = await testServer({ engine: new FakeEngine() });
    try {
      const alice = await t.profile("alice");
      assert.equal((await t.server.app.inject({ method: "GET", url: "/metrics" })).statusCode, 401);
      assert.equal(
        (await t.server.app.inject({ method: "GET", url: "/metrics", headers: alice })).statusCode,
        403,
      );

      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "m1", key_pair: "k" },
      });
      assert.equal(created.statusCode, 202, created.body);
      await t.clusterWhen(alice, "m1", "online");

      const answer = await t.server.app.inject({ method: "GET", url: "/metrics", headers: admin });
      assert.equal(answer.statusCode, 200);
      assert.match(String(answer.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
      const families = parsePrometheus(answer.body);
      const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
      for (const [name, type] of Object.entries({
        pandacluster_aws_requests_total: "COUNTER",
        pandacluster_aws_request_seconds: "HISTOGRAM",
        pandacluster_jobs: "GAUGE",
        pandacluster_clusters: "GAUGE",
        pandacluster_http_request_seconds: "HISTOGRAM",
        pandacluster_event_streams: "GAUGE",
        pandacluster_poll_cycle_seconds: "HISTOGRAM",
        pandacluster_reconcile_cycle_seconds: "HISTOGRAM",
      })) {
        assert.equal(types[name], type, `${name} is a ${type}`);
      }
      assert.equal(sample(families, "pandacluster_clusters", { status: "online" })?.value, "1");
      assert.equal(sample(families, "pandacluster_jobs", { kind: "create", state: "done" })?.value, "1");
      // parse-prometheus-text-format folds a histogram's label sets into one (it reads only
      // unlabelled histograms right): the labelled HTTP histogram's lines are read as text, after
      // the parser has accepted the whole document.
      assert.match(
        answer.body,
        /^pandacluster_http_request_seconds_count\{route="\/clusters",method="POST",status="202"\} 1$/m,
      );
      assert.match(
        answer.body,
        /^pandacluster_http_request_seconds_bucket\{le="\+Inf",route="\/clusters",method="POST",status="202"\} 1$/m,
      );
      const polls = sample(families, "pandacluster_poll_cycle_seconds");
      assert.ok(Number(polls?.count) >= 1, "the poller followed the stack");
      assert.equal(sample(families, "pandacluster_event_streams")?.value, "0");
      // Paths that match no route are not timed: no label value per path.
      await t.server.app.inject({ method: "GET", url: "/no/such/a1", headers: admin });
      const again = (await t.server.app.inject({ method: "GET", url: "/metrics", headers: admin })).body;
      assert.ok(parsePrometheus(again).length >= 8);
      assert.doesNotMatch(again, /no\/such/);
      // The GET /metrics just answered is counted with its pattern.
      assert.match(
        again,
        /^pandacluster_http_request_seconds_count\{route="\/metrics",method="GET",status="200"\} 1$/m,
      );
    } finally {
      await t.close();
    }
  });

  it("serve --metrics-port: the same metrics without a token on 127.0.0.1; an open event stream is counted", async () => {
    const engine = new FakeEngine();
    engine.completeAfterPolls = 1000;
    const stderr = new LogCapture();
    // --metrics-port takes no 0: a free port is picked, and picked again if another process (a test
    // run beside this one) bound it between the pick and the server's listen.
    let metricsPort = 0;
    let running: Awaited<ReturnType<typeof startServer>> | undefined;
    for (let attempt = 1; !running; attempt++) {
      metricsPort = await freePort();
      try {
        running = await startServer({
          host: "127.0.0.1",
          port: 0,
          db: ":memory:",
          metrics_port: metricsPort,
          env: { PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN },
          stderr,
          handleSignals: false,
          server: { engine, logger: false, pollIntervalMs: 20 },
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 5) throw error;
      }
    }
    try {
      assert.match(stderr.text, new RegExp(`metrics at http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
      const profile = await fetch(`${running.url}/profiles`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ name: "alice", email: "a@example.com" }),
      });
      const alice = { authorization: `Bearer ${(await profile.json()).token}` };
      const created = await fetch(`${running.url}/clusters`, {
        method: "POST",
        headers: { ...alice, "content-type": "application/json" },
        body: JSON.stringify({ stack_name: "s1", key_pair: "k", cluster_size: 3 }),
      });
      assert.equal(created.status, 202);
      // The stack stays in progress (the fake engine completes it after 1,000 polls): the stream stays open.
      const stream = await readEvents(`${running.url}/clusters/s1/events`, alice);
      const streams = async () => {
        const answer = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        assert.equal(answer.status, 200, "no token needed on the metrics port");
        return sample(parsePrometheus(await answer.text()), "pandacluster_event_streams")?.value;
      };
      try {
        assert.equal(stream.status, 200);
        assert.equal(await eventually(async () => ((await streams()) === "1" ? "1" : undefined)), "1");
      } finally {
        stream.close();
      }
      assert.equal(await eventually(async () => ((await streams()) === "0" ? "0" : undefined)), "0");
      // Only the metrics are served there.
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/profiles`)).status, 404);
    } finally {
      await running.shutdown();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), "closed with the server");
  });

  it("serve --metrics-port and --audit-log: bad values are exit 2, naming the flag", async () => {
    const home = mkdtempSync(join(tmpdir(), "pandacluster-serve-flags-"));
    try {
      const env = { HOME: home, PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN };
      const port = await runCli(["serve", "--port", "0", "--db", ":memory:", "--metrics-port", "0"], { env });
      assert.equal(port.code, 2, port.stderr);
      assert.match(port.stderr, /--metrics-port/);
      const missing = join(home, "no", "such", "dir", "audit.jsonl");
      const file = await runCli(["serve", "--port", "0", "--db", ":memory:", "--audit-log", missing], {
        env,
      });
      assert.equal(file.code, 2, file.stderr);
      assert.match(file.stderr, /--audit-log: cannot open .*audit\.jsonl: ENOENT/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
