/**
 * Issue 17, the server face: POST /clusters/{name}/upgrade runs as a stored day-2 job, the same
 * table and runner as the scale (one per cluster, fleet-wide; leased, fenced, resumed). The library
 * is FakeEngine with an upgrade() whose end the test controls (these are the server's own rules;
 * test/server/upgrade-e2e.test.ts runs the real library on the paced emulator and kills a replica).
 * Also the reconciler's image warning: an event once per warning, on SQLite and across two
 * PostgreSQL replicas.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ImageAdvice, ImageAdviceInput } from "../../src/lifecycle/image_age.js";
import type { UpgradeResult } from "../../src/lifecycle/types.js";
import type { UpgradeOptions } from "../../src/options.js";
import type { SqliteStore } from "../../src/server/store/sqlite.js";
import { runCli } from "../helpers/cli.js";
import { type Postgres, startPostgres } from "../helpers/services.js";
import { CuttableTcp } from "../helpers/tcp-cut.js";
import { FakeEngine } from "./fake-engine.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pandacluster-upgrades-"));
let postgres: Postgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const NEW_IMAGE = "ami-84380cf42e2ae29d6";

/** FakeEngine with upgrade(): waits for release() when gated; a dry run answers the plan at once. */
class UpgradingEngine extends FakeEngine {
  /** Upgrades asked for (not dry runs: the route plans every upgrade first, those are in plans). */
  readonly upgrades: UpgradeOptions[] = [];
  readonly plans: UpgradeOptions[] = [];
  /** Upgrades that stopped because their signal aborted (a lost lease, a shutdown). */
  stopped = 0;
  advice: Partial<ImageAdvice> | null = null;
  adviceCalls = 0;
  #open: () => void = () => {};
  #gate: Promise<void> = Promise.resolve();
  hold(): void {
    this.#gate = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }
  release(): void {
    this.#open();
  }
  async upgrade(
    _credentials: unknown,
    options: UpgradeOptions,
    hooks?: { onEvent?: (event: never) => void; signal?: AbortSignal },
  ): Promise<UpgradeResult> {
    (options.dry_run ? this.plans : this.upgrades).push(options);
    const target = options.image_id ?? NEW_IMAGE;
    const base = {
      stack_name: options.stack_name,
      stack_id: options.stack_id ?? "",
      region: options.region ?? "us-east-1",
      image_from: "ami-0123456789abcdef0",
      image_to: target,
      image_name: null,
      stack_update: { needed: true, token: null, answer: null },
      plan: {
        target_image: target,
        controllers: [],
        workers: [],
        worker_strategy: { kind: "batches" as const, batch: 1, min_in_service: 0, min_healthy: 90 },
      },
      reasons: [],
      timings: {},
    };
    if (options.dry_run)
      return { ...base, status: "planned", message: "dry run: would replace", replaced: [], nodes: [] };
    hooks?.onEvent?.({ step: "roll", message: `replacing controller i-1: → ${target}` } as never);
    // Stops when told to, as the library's roll does between two steps (RollInterrupted).
    const signal = hooks?.signal;
    await Promise.race([
      this.#gate,
      new Promise((resolve) => signal?.addEventListener("abort", resolve, { once: true })),
    ]);
    if (signal?.aborted) {
      this.stopped += 1;
      throw new Error("interrupted");
    }
    return {
      ...base,
      status: "success",
      message: `${options.stack_name} upgraded to ${target}: 3 instances replaced`,
      replaced: [],
      nodes: [{ role: "controller", instance_id: "i-new", private_ip: "10.0.0.9" } as never],
    };
  }
  /** A scale must never start while an upgrade runs (the route refuses it first). */
  async scale(): Promise<never> {
    throw new Error("a scale ran during an upgrade");
  }
  async imageAdvice(
    _credentials: unknown,
    _region: string,
    clusters: ImageAdviceInput[],
  ): Promise<(ImageAdvice | null)[]> {
    this.adviceCalls += 1;
    return clusters.map((c) =>
      this.advice
        ? ({
            image_id: c.image_id ?? "",
            image_name: "Flatcar-stable-old",
            created_at: null,
            deprecated_at: null,
            gone: false,
            newer: null,
            expected_removal: null,
            warning: null,
            command: null,
            ...this.advice,
          } as ImageAdvice)
        : null,
    );
  }
}

async function onlineCluster(t: TestServer, name: string, who = "alice") {
  const headers = await t.profile(who);
  const posted = await t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers,
    payload: { stack_name: name, key_pair: "k" },
  });
  assert.equal(posted.statusCode, 202, posted.body);
  await t.clusterWhen(headers, name, "online");
  return headers;
}

const post = (t: TestServer, headers: { authorization: string }, name: string, payload: unknown) =>
  t.server.app.inject({
    method: "POST",
    url: `/clusters/${name}/upgrade`,
    headers,
    payload: payload as object,
  });

const upgradeState = async (t: TestServer, headers: { authorization: string }, name: string) =>
  (await t.server.app.inject({ method: "GET", url: `/clusters/${name}/upgrade`, headers })).json();

describe("upgrade jobs on the server (issue 17)", () => {
  it("202 and a job; one day-2 job at a time (409 for an upgrade, a scale, a DELETE); the end stored with the new image", async () => {
    const engine = new UpgradingEngine();
    const t = await testServer({ engine });
    try {
      const alice = await onlineCluster(t, "roll");
      engine.hold();
      const accepted = await post(t, alice, "roll", { image_id: NEW_IMAGE, min_healthy: 50 });
      assert.equal(accepted.statusCode, 202, accepted.body);
      assert.equal(accepted.headers.location, "/clusters/roll/upgrade");
      const job = accepted.json().job;
      assert.match(job.id, /^upgrade-/);
      assert.equal(job.kind, "upgrade");
      assert.deepEqual(job.params, { image_id: NEW_IMAGE, min_healthy: 50, timeout: 60 });
      await eventually(async () => (engine.upgrades.length > 0 ? true : undefined), 30_000, "the upgrade");
      assert.equal(
        engine.upgrades[0]?.stack_id,
        "arn:aws:cloudformation:us-east-1:123456789012:stack/roll/1",
      );
      assert.equal(engine.upgrades[0]?.min_healthy, 50);
      assert.equal(engine.upgrades[0]?.dry_run, false);

      const again = await post(t, alice, "roll", {});
      assert.equal(again.statusCode, 409, again.body);
      assert.match(again.json().messages[0], /is being upgraded already/);
      const scale = await t.server.app.inject({
        method: "PATCH",
        url: "/clusters/roll",
        headers: alice,
        payload: { workers: 2 },
      });
      assert.equal(scale.statusCode, 409, scale.body);
      assert.match(scale.json().messages[0], /is being upgraded; scale it once the upgrade has ended/);
      const refused = await t.server.app.inject({ method: "DELETE", url: "/clusters/roll", headers: alice });
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json().messages[0], /is being upgraded; delete it once the upgrade has ended/);
      const sync = await t.server.app.inject({ method: "POST", url: "/clusters/roll/sync", headers: alice });
      assert.equal(sync.statusCode, 409, sync.body);
      assert.match(sync.json().messages[0], /is being upgraded; its upgrade names the nodes/);
      assert.equal((await upgradeState(t, alice, "roll")).state, "running");

      engine.release();
      const done = await eventually(
        async () => {
          const state = await upgradeState(t, alice, "roll");
          return state.state === "running" ? undefined : state;
        },
        30_000,
        "the upgrade to end",
      );
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      const cluster = (
        await t.server.app.inject({ method: "GET", url: "/clusters/roll", headers: alice })
      ).json();
      assert.equal(cluster.status, "online");
      assert.equal(cluster.result.cluster.image_id, NEW_IMAGE, "the stored result names the new image");
      assert.equal(cluster.result.cluster.nodes[0].instance_id, "i-new");
      const messages = await t.eventMessages(alice, "roll");
      assert.ok(messages.includes(`upgrade requested: to ${NEW_IMAGE}`), messages.join(" | "));
      assert.ok(messages.includes(`replacing controller i-1: → ${NEW_IMAGE}`), messages.join(" | "));
      assert.equal(messages.at(-1), `upgrade succeeded: roll upgraded to ${NEW_IMAGE}: 3 instances replaced`);
      // The scale view shows scales only; the delete goes ahead now.
      const scaleView = await t.server.app.inject({
        method: "GET",
        url: "/clusters/roll/scale",
        headers: alice,
      });
      assert.equal(scaleView.statusCode, 404, scaleView.body);
      const deleted = await t.server.app.inject({ method: "DELETE", url: "/clusters/roll", headers: alice });
      assert.equal(deleted.statusCode, 202, deleted.body);
    } finally {
      engine.release();
      await t.close();
    }
  });

  it("bad fields are 400 naming the field; an unknown cluster or another profile's is 404; a dry run is 200 with the plan and no job", async () => {
    const engine = new UpgradingEngine();
    const t = await testServer({ engine });
    try {
      const alice = await onlineCluster(t, "plan");
      const bob = await t.profile("bob");
      for (const [payload, message] of [
        [{ min_healthy: 101 }, /^min_healthy: 101 is out of range/],
        [{ min_healthy: "90" }, /^min_healthy: "90" is not an integer/],
        [{ image_id: "ubuntu" }, /^image_id: /],
        [{ dry_run: "yes" }, /^dry_run: /],
        [{ stack_name: "other" }, /^stack_name: not allowed in the body/],
        [{ region: "eu-west-1" }, /^region: not allowed in the body/],
        [{ colour: "blue" }, /colour/],
        [[1], /must be a JSON object/],
      ] as const) {
        const answer = await post(t, alice, "plan", payload);
        assert.equal(answer.statusCode, 400, `${JSON.stringify(payload)}: ${answer.body}`);
        assert.match(answer.json().messages.join("\n"), message, JSON.stringify(payload));
      }
      const badRegion = await t.server.app.inject({
        method: "POST",
        url: "/clusters/plan/upgrade?region=nowhere-1",
        headers: alice,
        payload: {},
      });
      assert.equal(badRegion.statusCode, 400, badRegion.body);
      assert.match(badRegion.json().messages[0], /^region: /);
      assert.equal((await post(t, alice, "nothere", {})).statusCode, 404);
      assert.equal((await post(t, bob, "plan", {})).statusCode, 404, "another profile's cluster");
      assert.equal((await upgradeState(t, alice, "plan")).error, "not found");
      assert.equal(engine.upgrades.length + engine.plans.length, 0, "nothing reached the library");

      const planned = await post(t, alice, "plan", { dry_run: true });
      assert.equal(planned.statusCode, 200, planned.body);
      assert.equal(planned.json().status, "planned");
      assert.equal(planned.json().image_to, NEW_IMAGE);
      assert.equal(engine.plans[0]?.dry_run, true);
      assert.equal(engine.upgrades.length, 0, "a dry run is no upgrade");
      const noJob = await t.server.app.inject({
        method: "GET",
        url: "/clusters/plan/upgrade",
        headers: alice,
      });
      assert.equal(noJob.statusCode, 404, "a dry run is no job");

      // An argument the definitions give the upgrade (here etcd_version) flows through to the job.
      const etcd = await post(t, alice, "plan", { etcd_version: "3.5.26" });
      assert.equal(etcd.statusCode, 202, etcd.body);
      assert.deepEqual(etcd.json().job.params, { etcd_version: "3.5.26", min_healthy: 90, timeout: 60 });
      await eventually(async () => (engine.upgrades.length > 0 ? true : undefined), 30_000, "the upgrade");
      assert.equal(engine.upgrades[0]?.etcd_version, "3.5.26");
      assert.equal(engine.upgrades[0]?.image_id, undefined, "the image stays as it is");
      assert.equal(engine.plans.at(-1)?.etcd_version, "3.5.26", "planned first, with the same arguments");
      assert.ok((await t.eventMessages(alice, "plan")).includes("upgrade requested: to etcd 3.5.26"));
    } finally {
      await t.close();
    }
  });

  it("the CLI's upgrade --server: 202, the job's progress on stderr, its result on stdout as the local mode prints it", async () => {
    const engine = new UpgradingEngine();
    const t = await testServer({ engine });
    try {
      const alice = await onlineCluster(t, "cli");
      await t.server.app.listen({ host: "127.0.0.1", port: 0 });
      const url = `http://127.0.0.1:${(t.server.app.server.address() as { port: number }).port}`;
      const env = {
        PANDACLUSTER_TOKEN: alice.authorization.slice("Bearer ".length),
        PANDACLUSTER_REMOTE_POLL_MS: "100",
      };
      const run = await runCli(
        ["upgrade", "-n", "cli", "--image-id", NEW_IMAGE, "--min-healthy", "60", "--json", "--server", url],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.status, "success");
      assert.equal(result.image_to, NEW_IMAGE);
      assert.match(run.stderr, /replacing controller i-1/);
      assert.equal(engine.upgrades[0]?.min_healthy, 60, "the flags reach the server's job");
      const bad = await runCli(["upgrade", "-n", "nothere", "--server", url], { env });
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /no cluster named nothere/);
    } finally {
      await t.close();
    }
  });

  it("an upgrade left running by a server killed with -9 is resumed by the next server with its own arguments", async () => {
    const db = join(dir, "resume.db");
    const engine = new UpgradingEngine();
    const env = { PANDACLUSTER_SECRET_KEY: "66".repeat(32) };
    const first = await testServer({ db, engine, env });
    const alice = await onlineCluster(first, "resume");
    await first.close();
    // What a server killed mid-upgrade leaves: the job running, leased to a process that is gone.
    const Database = (await import("better-sqlite3")).default;
    const raw = new Database(db);
    raw
      .prepare(
        `INSERT INTO scale_jobs (cluster_id, key, kind, params, state, started_at, lease_owner, lease_until, lease_generation)
         VALUES ((SELECT id FROM clusters WHERE stack_name = 'resume'), 'upgrade-killed', 'upgrade', ?, 'running', ?, 'gone/1/x', ?, 1)`,
      )
      .run(
        JSON.stringify({ image_id: NEW_IMAGE, min_healthy: 75, timeout: 60 }),
        new Date().toISOString(),
        new Date(Date.now() - 1_000).toISOString(),
      );
    raw.close();

    const second = await testServer({ db, engine, env, leaseMs: 1_500 });
    try {
      const done = await eventually(
        async () => {
          const state = await upgradeState(second, alice, "resume");
          return state.state === "running" ? undefined : state;
        },
        30_000,
        "the resumed upgrade to end",
      );
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      assert.equal(done.id, "upgrade-killed");
      const asked = engine.upgrades.at(-1);
      assert.equal(asked?.image_id, NEW_IMAGE);
      assert.equal(asked?.min_healthy, 75);
      assert.equal(asked?.stack_name, "resume");
      const messages = await second.eventMessages(alice, "resume");
      assert.ok(
        messages.includes(`resuming the upgrade to ${NEW_IMAGE} (the server that ran it stopped)`),
        messages.join(" | "),
      );
    } finally {
      await second.close();
    }
  });

  it("an upgrade whose lease another server took stops at once and writes nothing more", async () => {
    const engine = new UpgradingEngine();
    const t = await testServer({
      db: join(dir, "fence.db"),
      engine,
      env: { PANDACLUSTER_SECRET_KEY: "67".repeat(32) },
      leaseMs: 1_500,
    });
    try {
      const alice = await onlineCluster(t, "fenced");
      engine.hold();
      assert.equal((await post(t, alice, "fenced", {})).statusCode, 202);
      await eventually(async () => (engine.upgrades.length > 0 ? true : undefined), 30_000, "the upgrade");
      // Another server took the lease (this one was paused past it): the next generation is its.
      const db = (t.server.store as SqliteStore).db;
      db.prepare(
        `UPDATE scale_jobs SET lease_owner = 'other/1/x', lease_generation = lease_generation + 1,
           lease_until = ? WHERE kind = 'upgrade'`,
      ).run(new Date(Date.now() + 600_000).toISOString());
      const eventsBefore = (await t.eventMessages(alice, "fenced")).length;
      await eventually(async () => (engine.stopped > 0 ? true : undefined), 30_000, "the upgrade to stop");
      assert.match(t.log.text, /upgrade lease lost; the upgrade stops here/);
      const row = db.prepare("SELECT state, lease_owner FROM scale_jobs WHERE kind = 'upgrade'").get() as {
        state: string;
        lease_owner: string;
      };
      assert.deepEqual(
        row,
        { state: "running", lease_owner: "other/1/x" },
        "nothing written over the new holder",
      );
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal((await t.eventMessages(alice, "fenced")).length, eventsBefore, "no event after the loss");
    } finally {
      engine.release();
      await t.close();
    }
  });

  it("PostgreSQL gone as an upgrade ends: POST is 503 with Retry-After, the process lives on, the end lands once the database is back", async () => {
    const direct = await postgres.createDatabase();
    const proxy = new CuttableTcp(postgres.port);
    const url = direct.replace(`:${postgres.port}/`, `:${await proxy.start()}/`);
    const engine = new UpgradingEngine();
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on("unhandledRejection", onUnhandled);
    const t = await testServer({
      db: url,
      engine,
      leaseMs: 6_000,
      env: { PANDACLUSTER_SECRET_KEY: "45".repeat(32) },
    });
    try {
      const alice = await onlineCluster(t, "blink");
      engine.hold();
      assert.equal((await post(t, alice, "blink", {})).statusCode, 202);
      await eventually(async () => (engine.upgrades.length > 0 ? true : undefined), 30_000, "the upgrade");
      proxy.cut();
      engine.release();
      const down = await post(t, alice, "blink", {});
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.headers["retry-after"], "5");
      await eventually(
        async () =>
          /the store did not take the upgrade's end; trying again/.test(t.log.text) ? true : undefined,
        30_000,
        "the end's write retried",
      );
      proxy.restore();
      const done = await eventually(
        async () => {
          const state = await upgradeState(t, alice, "blink");
          return state.state === "running" ? undefined : state;
        },
        30_000,
        "the upgrade's end",
      );
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      assert.equal(done.result.image_to, NEW_IMAGE, "the job keeps the library's result");
      assert.deepEqual(unhandled, [], "an unhandled rejection (Node would have exited)");
    } finally {
      process.off("unhandledRejection", onUnhandled);
      engine.release();
      await t.close();
      await proxy.stop();
    }
  });

  it("the reconciler records an image warning as an event once: not again on the next passes, again when the warning changes", async () => {
    const engine = new UpgradingEngine();
    const t = await testServer({ engine, reconcileMs: 3_600_000, imageCheckMs: 0 });
    try {
      const alice = await onlineCluster(t, "old");
      engine.advice = {
        newer: { image_id: NEW_IMAGE, name: "Flatcar-stable-4230.2.3-hvm", created_at: null },
        warning:
          "image ami-0123456789abcdef0 is older than the channel's newest. Move it with: pandacluster upgrade -n old -r us-east-1",
        command: "pandacluster upgrade -n old -r us-east-1",
      };
      for (let pass = 0; pass < 3; pass++) await t.server.reconciler.runOnce();
      assert.equal(engine.adviceCalls, 3);
      const warnings = async () =>
        (await t.eventMessages(alice, "old")).filter((m) => m.startsWith("reconcile: image "));
      assert.deepEqual(await warnings(), [`reconcile: ${engine.advice.warning}`]);
      const events = (
        await t.server.app.inject({ method: "GET", url: "/clusters/old/events", headers: alice })
      ).json();
      assert.equal(events.at(-1).command, "pandacluster upgrade -n old -r us-east-1");
      assert.equal(events.at(-1).kind, "warning");

      engine.advice = {
        ...engine.advice,
        deprecated_at: "2026-01-01T00:00:00.000Z",
        warning:
          "image ami-0123456789abcdef0 was deprecated by AWS on 2026-01-01. Move it with: pandacluster upgrade -n old -r us-east-1",
      };
      await t.server.reconciler.runOnce();
      await t.server.reconciler.runOnce();
      assert.equal((await warnings()).length, 2, (await warnings()).join(" | "));
    } finally {
      await t.close();
    }
  });

  it("PostgreSQL: two replicas' reconcilers seeing the same warning at once record one event", async () => {
    const db = await postgres.createDatabase();
    const engine = new UpgradingEngine();
    const env = { PANDACLUSTER_SECRET_KEY: "b".repeat(64) };
    const one = await testServer({ engine, db, env, reconcileMs: 3_600_000, imageCheckMs: 0 });
    const two = await testServer({ engine, db, env, reconcileMs: 3_600_000, imageCheckMs: 0, resume: false });
    try {
      const alice = await onlineCluster(one, "shared");
      engine.advice = {
        deprecated_at: "2026-01-01T00:00:00.000Z",
        warning:
          "image ami-0123456789abcdef0 was deprecated by AWS on 2026-01-01. Move it with: pandacluster upgrade -n shared -r us-east-1",
        command: "pandacluster upgrade -n shared -r us-east-1",
      };
      for (let pass = 0; pass < 3; pass++)
        await Promise.all([one.server.reconciler.runOnce(), two.server.reconciler.runOnce()]);
      assert.equal(engine.adviceCalls, 6, "both replicas looked, three times each");
      const warnings = (await two.eventMessages(alice, "shared")).filter((m) =>
        m.startsWith("reconcile: image "),
      );
      assert.deepEqual(warnings, [`reconcile: ${engine.advice.warning}`]);
    } finally {
      await two.close();
      await one.close();
    }
  });
});
