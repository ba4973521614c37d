/**
 * Several server replicas on one PostgreSQL database (Debian's postgresql-15, started by the
 * harness), in this process, with the FakeEngine standing in for AWS (shared by the replicas, as
 * one AWS account is): profiles and clusters seen at once by every replica, live events streamed
 * (SSE) by one replica for a job another runs, and the stack poller batched across the fleet.
 * The same SSE checks run on one SQLite server. `pandacluster serve` processes against the moto
 * emulator, with kill -9, are in replicas-e2e.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, type ServerOptions } from "../../src/server/app.js";
import { startServer } from "../../src/server/start.js";
import { within } from "../helpers/harness.js";
import { type Postgres, startPostgres } from "../helpers/services.js";
import { FakeEngine } from "./fake-engine.js";
import { ADMIN_TOKEN, admin, eventually, LogCapture, type TestServer, testServer } from "./helpers.js";
import { readEvents, type SseFrame } from "./sse.js";

let postgres: Postgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
});

const SECRET = { PANDACLUSTER_SECRET_KEY: "22".repeat(32) };

interface Replica {
  t: TestServer;
  url: string;
}

async function replica(db: string, id: string, extra: ServerOptions = {}): Promise<Replica> {
  const t = await testServer({ db, ...extra, env: { ...SECRET, PANDACLUSTER_SERVER_ID: id, ...extra.env } });
  await t.server.app.listen({ host: "127.0.0.1", port: 0 });
  const address = t.server.app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { t, url: `http://127.0.0.1:${port}` };
}

async function post(url: string, headers: Record<string, string>, body: unknown) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

describe("replicas on one PostgreSQL database", () => {
  it("a profile, its token and its cluster made on A are usable on B at once; a deleted profile's token is refused on both", async () => {
    const db = await postgres.createDatabase();
    const engine = new FakeEngine();
    const a = await replica(db, "a", { engine });
    const b = await replica(db, "b", { engine });
    try {
      const alice = await a.t.profile("alice");
      const created = await post(`${b.url}/clusters`, alice, { stack_name: "one", key_pair: "k" });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const onA = await fetch(`${a.url}/clusters/one`, { headers: alice });
      assert.equal(onA.status, 200);
      await a.t.clusterWhen(alice, "one", "online");
      assert.equal(engine.calls.launch, 1);
      const deleted = await fetch(`${b.url}/clusters/one`, { method: "DELETE", headers: alice });
      assert.equal(deleted.status, 202);
      await b.t.clusterWhen(alice, "one", "deleted");
      const gone = await fetch(`${a.url}/profiles/alice`, { method: "DELETE", headers: admin });
      assert.equal(gone.status, 204);
      for (const r of [a, b]) {
        const refused = await fetch(`${r.url}/clusters`, { headers: alice });
        assert.equal(refused.status, 401, "a deleted profile's token still works");
      }
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it("PANDACLUSTER_DATABASE_URL picks PostgreSQL; the notice hides the password; a replica with another secret key refuses to start", async () => {
    const db = await postgres.createDatabase();
    // Trust authentication ignores the password: it is here to be hidden.
    const withPassword = db.replace("postgres@", "postgres:sekret-pw@");
    const stderr = new LogCapture();
    const running = await startServer({
      host: "127.0.0.1",
      port: 0,
      env: { ...SECRET, PANDACLUSTER_DATABASE_URL: withPassword, PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN },
      stderr,
      handleSignals: false,
      server: { engine: new FakeEngine(), logStream: new LogCapture() },
    });
    try {
      assert.match(stderr.text, /store PostgreSQL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//);
      assert.ok(!stderr.text.includes("sekret-pw"), "the database password was printed");
      await assert.rejects(
        createServer({
          db,
          engine: new FakeEngine(),
          logStream: new LogCapture(),
          env: { PANDACLUSTER_SECRET_KEY: "44".repeat(32), PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN },
        }),
        /not the one this store's secrets were sealed with/,
      );
    } finally {
      await running.shutdown("test");
    }
  });

  it("SSE on B follows a create run by A: every event in order, carried by NOTIFY (long before the 60 s fallback), then the final state; Last-Event-ID resumes", async () => {
    const db = await postgres.createDatabase();
    const engine = new FakeEngine();
    engine.completeAfterPolls = 6;
    const a = await replica(db, "a", { engine, pollIntervalMs: 100 });
    // B re-reads only on a notification (no 2 s fallback within this test): NOTIFY must carry it.
    const b = await replica(db, "b", {
      engine,
      resume: false,
      eventStream: { wakeMs: 60_000, heartbeatMs: 150 },
    });
    try {
      const alice = await a.t.profile("alice");
      const created = await post(`${a.url}/clusters`, alice, { stack_name: "live", key_pair: "k" });
      assert.equal(created.status, 202);
      const lags: number[] = [];
      const stream = await readEvents(`${b.url}/clusters/live/events`, alice, (frame) => {
        if (frame.event !== "progress") return;
        const event = JSON.parse(frame.data) as { time: string };
        lags.push(frame.at - Date.parse(event.time));
      });
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      await within(stream.ended, 60_000, "B's event stream of live to end (its end frame)");
      const progress = stream.frames.filter((f) => f.event === "progress");
      const end = stream.frames.at(-1) as SseFrame;
      assert.equal(end.event, "end");
      assert.equal((JSON.parse(end.data) as { status: string }).status, "online");
      // The stream carries exactly what the JSON route lists, in order, ids = sequence numbers.
      const stored = (await (await fetch(`${a.url}/clusters/live/events`, { headers: alice })).json()) as {
        seq: number;
        message: string;
      }[];
      assert.deepEqual(
        progress.map((f) => Number(f.id)),
        stored.map((e) => e.seq),
      );
      assert.deepEqual(
        progress.map((f) => (JSON.parse(f.data) as { message: string }).message),
        stored.map((e) => e.message),
      );
      assert.ok(stored.length >= 4, `only ${stored.length} events`);
      assert.ok(stream.comments >= 1, "no heartbeat");
      // Events that came while the stream was open (the first ones were stored before it opened).
      // B's fallback re-read is 60 s away (wakeMs): an event far sooner came by NOTIFY. The bound
      // was 1 s, a race a loaded machine could lose; 15 s still tells NOTIFY from the fallback.
      const live = lags.slice(1);
      assert.ok(live.length > 0 && Math.max(...live) < 15_000, `event lags: ${lags.join(", ")} ms`);

      const resumeFrom = stored[1]?.seq ?? 0;
      const resumed = await readEvents(`${b.url}/clusters/live/events`, {
        ...alice,
        "last-event-id": String(resumeFrom),
      });
      await within(resumed.ended, 60_000, "the resumed stream (Last-Event-ID) to end");
      assert.deepEqual(
        resumed.frames.filter((f) => f.event === "progress").map((f) => Number(f.id)),
        stored.filter((e) => e.seq > resumeFrom).map((e) => e.seq),
      );
      assert.equal(resumed.frames.at(-1)?.event, "end");
      const bad = await fetch(`${b.url}/clusters/live/events`, {
        headers: { ...alice, accept: "text/event-stream", "last-event-id": "x" },
      });
      assert.equal(bad.status, 400);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });

  it("the stack poller polls each region once per cycle for the whole fleet", async () => {
    const db = await postgres.createDatabase();
    const engine = new FakeEngine();
    engine.completeAfterPolls = 15;
    const times: { region: string; at: number }[] = [];
    const stackStatuses = engine.stackStatuses.bind(engine);
    engine.stackStatuses = (credentials, region) => {
      times.push({ region, at: Date.now() });
      return stackStatuses(credentials, region);
    };
    const interval = 200;
    const a = await replica(db, "a", { engine, pollIntervalMs: interval });
    const b = await replica(db, "b", { engine, pollIntervalMs: interval });
    try {
      const alice = await a.t.profile("alice");
      const started = Date.now();
      const names: string[] = [];
      for (let i = 0; i < 8; i++) {
        const name = `fleet${i}`;
        names.push(name);
        const region = i % 2 ? "eu-west-1" : "us-east-1";
        const answer = await post(`${(i % 4 < 2 ? a : b).url}/clusters`, alice, {
          stack_name: name,
          key_pair: "k",
          region,
        });
        assert.equal(answer.status, 202);
      }
      for (const name of names) await a.t.clusterWhen(alice, name, "online");
      const elapsed = Date.now() - started;
      const statsA = a.t.server.poller.stats();
      const statsB = b.t.server.poller.stats();
      assert.ok(statsA.max_watched > 0 && statsB.max_watched > 0, "a replica watched no stack");
      assert.ok(statsA.calls + statsB.calls > 0);
      for (const region of ["us-east-1", "eu-west-1"]) {
        const at = times.filter((t) => t.region === region).map((t) => t.at);
        // One replica polls a region per cycle (0.8–1.2 × interval); two polling on their own would
        // double the calls, half of them close behind the other replica's.
        const bound = Math.ceil(elapsed / (interval * 0.8)) + 2;
        assert.ok(at.length <= bound, `${at.length} calls for ${region} in ${elapsed} ms (bound ${bound})`);
        const close = at.slice(1).filter((t, i) => t - (at[i] ?? 0) < interval * 0.5).length;
        // A lease changing hands waits out the last holder's cycle too (the store's poll time).
        assert.ok(
          close <= 1,
          `${close} of ${at.length} calls for ${region} came within ${interval / 2} ms of another`,
        );
      }
      // Every replica's jobs were answered, also those whose replica never called AWS for them.
      assert.equal(engine.calls.launch, 8);
    } finally {
      await Promise.all([a.t.close(), b.t.close()]);
    }
  });
});

describe("event stream on one SQLite server", () => {
  it("streams a create's events until online; JSON without the header; a finished cluster's stream ends at once", async () => {
    const engine = new FakeEngine();
    engine.completeAfterPolls = 4;
    const one = await replica(":memory:", "solo", {
      engine,
      pollIntervalMs: 50,
      eventStream: { wakeMs: 60_000 },
    });
    try {
      const alice = await one.t.profile("alice");
      await post(`${one.url}/clusters`, alice, { stack_name: "s", key_pair: "k" });
      const stream = await readEvents(`${one.url}/clusters/s/events`, alice);
      await within(stream.ended, 60_000, "the stream of s to end once it is online");
      assert.equal(stream.frames.at(-1)?.event, "end");
      const messages = stream.frames
        .filter((f) => f.event === "progress")
        .map((f) => (JSON.parse(f.data) as { message: string }).message);
      assert.ok(messages.includes("cluster is online"), messages.join(" | "));
      const json = await fetch(`${one.url}/clusters/s/events`, { headers: alice });
      assert.match(json.headers.get("content-type") ?? "", /application\/json/);
      assert.equal(((await json.json()) as unknown[]).length, messages.length);
      const again = await readEvents(`${one.url}/clusters/s/events`, { ...alice, "last-event-id": "999999" });
      await within(again.ended, 30_000, "a finished cluster's stream to end at once");
      assert.deepEqual(
        again.frames.map((f) => f.event),
        ["end"],
      );
      const missing = await fetch(`${one.url}/clusters/nope/events`, {
        headers: { ...alice, accept: "text/event-stream" },
      });
      assert.equal(missing.status, 404);
    } finally {
      await one.t.close();
    }
  });

  it("a server that stops ends its open streams", async () => {
    const engine = new FakeEngine();
    engine.completeAfterPolls = 1_000_000;
    const one = await replica(":memory:", "solo", { engine, pollIntervalMs: 1_000 });
    const alice = await one.t.profile("alice");
    await post(`${one.url}/clusters`, alice, { stack_name: "s", key_pair: "k" });
    const stream = await readEvents(`${one.url}/clusters/s/events`, alice);
    await eventually(async () => (stream.frames.length > 0 ? true : undefined), 30_000, "a first event");
    await one.t.close();
    await within(stream.ended, 30_000, "the open stream to end when its server stops");
    assert.notEqual(stream.frames.at(-1)?.event, "end");
  });
});
