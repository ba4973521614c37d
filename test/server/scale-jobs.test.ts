/**
 * Issue 14 Low: scale jobs are stored like create and delete jobs. The library is FakeEngine with
 * a scale() whose end the test controls (these are the server's own rules; test/server/workers.test.ts
 * runs scales with the real library against moto). A scale left running by a server killed with -9
 * (its row as such a server leaves it: running, leased to a process that is gone) is resumed by the
 * next server; a DELETE during a scale is 409; a scale AWS finished while the store's disk is full
 * (SQLite's max_page_count makes it answer SQLITE_FULL) is never recorded as failed; and an event
 * stream follows a scale live instead of ending at `online`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import type { SqliteStore } from "../../src/server/store/sqlite.js";
import { FakeEngine } from "./fake-engine.js";
import { eventually, type TestServer, testServer } from "./helpers.js";
import { readEvents } from "./sse.js";

const dir = mkdtempSync(join(tmpdir(), "pandacluster-scales-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** FakeEngine with scale(): waits for release() when gated, then answers success with the workers. */
class ScalingEngine extends FakeEngine {
  gated = false;
  scales = 0;
  padding = 0;
  #open: () => void = () => {};
  #gate: Promise<void> = Promise.resolve();
  hold(): void {
    this.gated = true;
    this.#gate = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }
  release(): void {
    this.gated = false;
    this.#open();
  }
  async scale(
    credentials: unknown,
    options: { stack_name: string; region?: string; workers: number },
    hooks?: { onEvent?: (event: never) => void },
  ): Promise<ClusterResult> {
    this.scales += 1;
    hooks?.onEvent?.({
      step: "launch",
      message: `UpdateStack accepted: workers → ${options.workers}`,
    } as never);
    await this.#gate;
    const stack = [...this.stacks.values()].find((s) => s.stack_name === options.stack_name);
    const result = await this.finish(credentials, {
      stack_name: options.stack_name,
      region: options.region ?? "us-east-1",
      ...(stack ? { stack_id: stack.stack_id } : {}),
    });
    result.cluster.workers = options.workers;
    // A result as large as a cluster with many nodes makes: storing it needs new pages.
    result.details.launch = { update: { note: "x".repeat(this.padding) } };
    return result;
  }
}

async function onlineCluster(t: TestServer, name: string) {
  const alice = await t.profile("alice");
  const posted = await t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers: alice,
    payload: { stack_name: name, key_pair: "k" },
  });
  assert.equal(posted.statusCode, 202, posted.body);
  await t.clusterWhen(alice, name, "online");
  return alice;
}

const patch = (t: TestServer, headers: { authorization: string }, name: string, workers: number) =>
  t.server.app.inject({ method: "PATCH", url: `/clusters/${name}`, headers, payload: { workers } });

const scaleState = async (t: TestServer, headers: { authorization: string }, name: string) =>
  (await t.server.app.inject({ method: "GET", url: `/clusters/${name}/scale`, headers })).json();

describe("scale jobs stored like create and delete jobs (issue 14)", () => {
  it("a scale left running by a server killed with -9 is resumed by the next server and its result stored", async () => {
    const db = join(dir, "resume.db");
    const engine = new ScalingEngine();
    const env = { PANDACLUSTER_SECRET_KEY: "77".repeat(32) };
    const first = await testServer({ db, engine, env });
    const alice = await onlineCluster(first, "grow");
    await first.close();
    // What a server killed mid-scale leaves: the scale running, leased to a process that is gone.
    const Database = (await import("better-sqlite3")).default;
    const raw = new Database(db);
    raw
      .prepare(
        `INSERT INTO scale_jobs (cluster_id, key, workers, state, started_at, lease_owner, lease_until, lease_generation)
         VALUES ((SELECT id FROM clusters WHERE stack_name = 'grow'), 'scale-killed', 4, 'running', ?, 'gone/1/x', ?, 1)`,
      )
      .run(new Date().toISOString(), new Date(Date.now() - 1_000).toISOString());
    raw.close();

    const second = await testServer({ db, engine, env, leaseMs: 1_500 });
    try {
      const done = await eventually(
        async () => {
          const state = await scaleState(second, alice, "grow");
          return state.state === "running" ? undefined : state;
        },
        10_000,
        "the resumed scale to end",
      );
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      assert.equal(done.id, "scale-killed");
      const cluster = (
        await second.server.app.inject({ method: "GET", url: "/clusters/grow", headers: alice })
      ).json();
      assert.equal(cluster.result.cluster.workers, 4, "the resumed scale's result is the cluster's");
      const messages = await second.eventMessages(alice, "grow");
      assert.ok(
        messages.includes("resuming the scale to 4 workers (the server that ran it stopped)"),
        messages.join(" | "),
      );
      assert.equal(messages.at(-1), "scale to 4 workers succeeded");
    } finally {
      await second.close();
    }
  });

  it("DELETE during a scale is 409; once the scale ends the delete goes ahead", async () => {
    const engine = new ScalingEngine();
    const t = await testServer({ engine });
    try {
      const alice = await onlineCluster(t, "busy");
      engine.hold();
      assert.equal((await patch(t, alice, "busy", 3)).statusCode, 202);
      const refused = await t.server.app.inject({ method: "DELETE", url: "/clusters/busy", headers: alice });
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json().messages[0], /is being scaled; delete it once the scale has ended/);
      engine.release();
      await eventually(
        async () => ((await scaleState(t, alice, "busy")).state === "succeeded" ? true : undefined),
        30_000,
        "the scale to end",
      );
      const accepted = await t.server.app.inject({ method: "DELETE", url: "/clusters/busy", headers: alice });
      assert.equal(accepted.statusCode, 202, accepted.body);
    } finally {
      await t.close();
    }
  });

  it("a scale AWS finished while the store's disk is full is not recorded as failed: its end is written once there is room", async () => {
    const engine = new ScalingEngine();
    const t = await testServer({
      db: join(dir, "full.db"),
      engine,
      env: { PANDACLUSTER_SECRET_KEY: "88".repeat(32) },
    });
    try {
      const alice = await onlineCluster(t, "full");
      engine.padding = 64 * 1024;
      engine.hold();
      assert.equal((await patch(t, alice, "full", 5)).statusCode, 202);
      await eventually(async () => (engine.scales > 0 ? true : undefined), 30_000, "the scale to start");
      const db = (t.server.store as SqliteStore).db;
      const pages = Number(db.pragma("page_count", { simple: true }));
      // The disk is full: no page more (SQLite answers SQLITE_FULL, as on a full disk).
      db.pragma(`max_page_count = ${pages}`);
      try {
        engine.release();
        await eventually(
          async () =>
            /the store did not take the scale's end; trying again/.test(t.log.text) ? true : undefined,
          30_000,
          "the end's write to fail",
        );
        const meanwhile = await scaleState(t, alice, "full");
        assert.equal(meanwhile.state, "running", JSON.stringify(meanwhile));
      } finally {
        db.pragma("max_page_count = 1073741823");
      }
      const done = await eventually(
        async () => {
          const state = await scaleState(t, alice, "full");
          return state.state === "running" ? undefined : state;
        },
        10_000,
        "the scale's end",
      );
      assert.equal(done.state, "succeeded", JSON.stringify(done));
    } finally {
      await t.close();
    }
  });

  it("an event stream follows a scale live: it does not end at online while the scale runs", async () => {
    const engine = new ScalingEngine();
    const t = await testServer({ engine });
    try {
      const alice = await onlineCluster(t, "live");
      engine.hold();
      assert.equal((await patch(t, alice, "live", 2)).statusCode, 202);
      const base = await t.server.app.listen({ host: "127.0.0.1", port: 0 });
      const seen: string[] = [];
      const stream = await readEvents(`${base}/clusters/live/events`, alice, (frame) => {
        seen.push(frame.event === "end" ? "end" : JSON.parse(frame.data).message);
      });
      await eventually(
        async () => (seen.includes("UpdateStack accepted: workers → 2") ? true : undefined),
        30_000,
        "the scale's first event on the stream",
      );
      assert.ok(!seen.includes("end"), "the stream ended at online while the scale ran");
      engine.release();
      await stream.ended;
      assert.deepEqual(seen.slice(-2), ["scale to 2 workers succeeded", "end"]);
    } finally {
      await t.close();
    }
  });

  it("the reconciler leaves alone a cluster whose scale runs on another replica (the scale names its workers)", async () => {
    /** Counts the reconciler's ownership checks (DescribeStackResources by StackId in the library). */
    class CountingEngine extends ScalingEngine {
      identified = 0;
      async identify(
        _credentials: unknown,
        target: { stack_id: string },
      ): Promise<{ state: "ours"; stack_id: string; groups: { controllers: string[]; workers: string[] } }> {
        this.identified += 1;
        return { state: "ours", stack_id: target.stack_id, groups: { controllers: [], workers: [] } };
      }
    }
    const engine = new CountingEngine();
    const db = join(dir, "reconcile.db");
    const t = await testServer({ db, engine, env: { PANDACLUSTER_SECRET_KEY: "aa".repeat(32) } });
    try {
      await onlineCluster(t, "other");
      // A scale another replica runs now: leased to it, its lease still good.
      const raw = (t.server.store as SqliteStore).db;
      raw
        .prepare(
          `INSERT INTO scale_jobs (cluster_id, key, workers, state, started_at, lease_owner, lease_until, lease_generation)
           VALUES ((SELECT id FROM clusters WHERE stack_name = 'other'), 'scale-elsewhere', 2, 'running', ?, 'replica-b/1/x', ?, 1)`,
        )
        .run(new Date().toISOString(), new Date(Date.now() + 60_000).toISOString());
      const cycle = await t.server.reconciler.runOnce();
      assert.equal(cycle.clusters, 1);
      assert.equal(engine.identified, 0, "the reconciler acted on a cluster being scaled elsewhere");
      assert.equal(engine.scales, 0, "this replica took over a scale whose lease is still good");
    } finally {
      await t.close();
    }
  });
});
