/**
 * The server's job machinery with the library replaced by FakeEngine (calls counted, stacks that
 * complete after a set number of batched polls): calls per poll cycle, resuming after a restart,
 * adopting a stack launched just before a crash, failures and deadlines. The real-library versions
 * (moto, a killed `pandacluster serve`) are in e2e.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { SqliteStore } from "../../src/server/store/sqlite.js";
import { FakeEngine } from "./fake-engine.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-jobs-"));
  dirs.push(dir);
  return join(dir, "server.db");
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const env = { PANDACLUSTER_SECRET_KEY: "11".repeat(32) };

/** A create as POST /clusters stores it (cluster and job in phase launch), without running it. */
function storeCreateJob(t: TestServer, stack_name: string) {
  return t.server.store.createCluster(
    {
      profile_id: 1,
      stack_name,
      region: "us-east-1",
      account: "server",
      cluster_size: 3,
      options: { stack_name, key_pair: "k", cluster_size: 3, timeout: 30 } as never,
      create_token: `pandacluster-create-${stack_name}`,
    },
    undefined,
    () => ({ status_code: 202, body: "{}", location: null }),
    { step: "launch", message: "create requested" },
  );
}

describe("jobs (library replaced by FakeEngine)", () => {
  it("N clusters in flight cost one status call per region per cycle, not N", async () => {
    const engine = new FakeEngine();
    engine.completeAfterPolls = 4;
    const t = await testServer({ engine, pollIntervalMs: 30 });
    try {
      const headers = await t.profile("alice");
      const regions = ["us-east-1", "eu-west-1"];
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          t.server.app.inject({
            method: "POST",
            url: "/clusters",
            headers,
            payload: { stack_name: `c${i}`, key_pair: "k", region: regions[i % 2] },
          }),
        ),
      );
      assert.ok(answers.every((a) => a.statusCode === 202));
      await eventually(
        async () => {
          const list = (await t.server.app.inject({ method: "GET", url: "/clusters", headers })).json() as {
            status: string;
          }[];
          return list.length === 40 && list.every((c) => c.status === "online") ? true : undefined;
        },
        20_000,
        "40 clusters online",
      );
      const stats = t.server.poller.stats();
      assert.ok(stats.max_watched >= 10, `only ${stats.max_watched} stacks were ever watched at once`);
      assert.ok(stats.max_calls_per_cycle <= regions.length, JSON.stringify(stats));
      assert.equal(stats.calls, engine.calls.stackStatuses);
      // Four polls complete a stack; 40 stacks polled one by one would need 160 calls.
      assert.ok(
        (engine.calls.stackStatuses ?? 0) < 40,
        `${engine.calls.stackStatuses} status calls for 40 stacks`,
      );
      assert.equal(engine.calls.launch, 40);
      assert.equal(engine.calls.finish, 40);
    } finally {
      await t.close();
    }
  });

  it("a graceful stop leaves jobs stored; the next start resumes them to online", async () => {
    const db = tempDb();
    const engine = new FakeEngine();
    engine.completeAfterPolls = 1_000_000; // never completes while the first server runs
    const first = await testServer({ engine, db, env });
    const headers = await first.profile("alice");
    await first.server.app.inject({
      method: "POST",
      url: "/clusters",
      headers,
      payload: { stack_name: "resume", key_pair: "k" },
    });
    await eventually(async () => (engine.calls.stackStatuses ? true : undefined));
    await first.close();

    engine.completeAfterPolls = 1;
    for (const stack of engine.stacks.values()) stack.polls = 0;
    const second = await testServer({ engine, db, env });
    try {
      const cluster = await second.clusterWhen(headers, "resume", "online");
      assert.equal(cluster.result.status, "success");
      assert.equal(engine.calls.launch, 1, "the stack was launched twice");
      const messages = await second.eventMessages(headers, "resume");
      assert.ok(
        messages.some((m) => m.startsWith("resuming the create at its formation step")),
        messages.join("\n"),
      );
      assert.equal(messages.at(-1), "cluster is online");
    } finally {
      await second.close();
    }
  });

  it("a launch cut off before its stack id was stored adopts the stack instead of launching again", async () => {
    const db = tempDb();
    const engine = new FakeEngine();
    const first = await testServer({ engine, db, env, resume: false });
    const headers = await first.profile("alice");
    // The state a kill -9 inside launch() leaves: the cluster and its job stored in phase launch,
    // CreateStack gone through, the stack id never stored.
    const outcome = await storeCreateJob(first, "cut");
    assert.equal(outcome.kind, "created");
    await first.close();
    // Tagged with the job's create token, as the library tags what its CreateStack makes.
    await engine.launch(undefined, {
      stack_name: "cut",
      region: "us-east-1",
      client_token: "pandacluster-create-cut",
    });
    const launches = engine.calls.launch;

    const second = await testServer({ engine, db, env });
    try {
      await second.clusterWhen(headers, "cut", "online");
      assert.equal(engine.calls.launch, launches, "launched again after the restart");
      const messages = await second.eventMessages(headers, "cut");
      assert.ok(
        messages.some((m) => m.startsWith("found the stack that was being created before the restart")),
      );
    } finally {
      await second.close();
    }
  });

  it("a restarted launch never adopts a stack merely of its name; its DELETE leaves that stack alone (issue 7 item 2)", async () => {
    const db = tempDb();
    const engine = new FakeEngine();
    const first = await testServer({ engine, db, env, resume: false });
    const headers = await first.profile("alice");
    assert.equal((await storeCreateJob(first, "other")).kind, "created");
    await first.close();
    // Someone else's stack of that name (the CLI's, another token).
    const theirs = await engine.launch(undefined, {
      stack_name: "other",
      region: "us-east-1",
      client_token: "pandacluster-create-someone-else",
    });

    const second = await testServer({ engine, db, env });
    try {
      const failed = await second.clusterWhen(headers, "other", "failed");
      assert.match(failed.reasons.join(" "), /already exists/);
      const deleting = await second.server.app.inject({ method: "DELETE", url: "/clusters/other", headers });
      assert.ok([200, 202].includes(deleting.statusCode), deleting.body);
      await second.clusterWhen(headers, "other", "deleted");
      assert.equal(engine.calls.destroy ?? 0, 0, "a destroy was sent for a stack the cluster does not own");
      assert.ok(engine.stacks.has(theirs.stack_id), "the other stack is gone");
    } finally {
      await second.close();
    }
  });

  it("servers sharing a store: a job leased by another server is left alone until its lease runs out", async () => {
    const db = tempDb();
    const engine = new FakeEngine();
    const a = await testServer({
      engine,
      db,
      env: { ...env, PANDACLUSTER_SERVER_ID: "server-a" },
      resume: false,
    });
    const headers = await a.profile("alice");
    const outcome = await storeCreateJob(a, "shared");
    assert.equal(outcome.kind, "created");
    // Server A took the job and then died (no release). Its lease is held far beyond the test's
    // looking (it was 1.5 s, which a slow start of B could outlast) and is made to run out below.
    const taken = await a.server.store.claimJobs("server-a", new Date(Date.now() + 3_600_000).toISOString());
    assert.equal(taken.length, 1);
    const store = a.server.store as SqliteStore;
    await store.close();

    const b = await testServer({
      engine,
      db,
      env: { ...env, PANDACLUSTER_SERVER_ID: "server-b" },
      leaseMs: 300,
    });
    try {
      // B's lease sweeps (every 100 ms) look at the job: three of them, not a fixed wait.
      let sweeps = 0;
      const claimJobs = b.server.store.claimJobs.bind(b.server.store);
      b.server.store.claimJobs = (...args) => {
        sweeps += 1;
        return claimJobs(...args);
      };
      await eventually(async () => (sweeps >= 3 ? true : undefined), 30_000, "three of B's lease sweeps");
      assert.equal(engine.calls.launch ?? 0, 0, "server B ran a job that server A holds");
      // A's lease runs out (as time would make it): B takes the job over.
      const direct = new Database(db);
      direct
        .prepare("UPDATE jobs SET lease_until = ? WHERE lease_owner = 'server-a'")
        .run(new Date(Date.now() - 1_000).toISOString());
      direct.close();
      const cluster = await b.clusterWhen(headers, "shared", "online");
      assert.equal(cluster.result.status, "success");
      assert.equal(engine.calls.launch, 1);
    } finally {
      await b.close();
    }
  });

  it("two servers on one store without PANDACLUSTER_SERVER_ID: each job runs once, no false restart (issue 7 item 3)", async () => {
    const db = tempDb();
    const engine = new FakeEngine();
    // A launch that outlasts the lease: the holder must renew it while the other server's sweeps
    // (every second) look. Leases of 3 s, not 300 ms: a loaded machine's stall of a third of a
    // second must not pass for a dead server.
    engine.launchDelayMs = 3_500;
    const a = await testServer({ engine, db, env, leaseMs: 3_000 });
    const b = await testServer({ engine, db, env, leaseMs: 3_000 });
    try {
      const headers = await a.profile("alice");
      const names = ["twin-1", "twin-2", "twin-3", "twin-4", "twin-5", "twin-6"];
      for (const [index, stack_name] of names.entries()) {
        const server = index % 2 === 0 ? a : b;
        const answer = await server.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers,
          payload: { stack_name, key_pair: "k" },
        });
        assert.equal(answer.statusCode, 202, answer.body);
      }
      for (const name of names) {
        const cluster = await eventually(
          async () => {
            const got = (
              await a.server.app.inject({ method: "GET", url: `/clusters/${name}`, headers })
            ).json();
            return got.status === "creating" ? undefined : got;
          },
          60_000,
          `${name} to leave creating`,
        );
        assert.equal(cluster.status, "online", JSON.stringify(cluster.reasons));
        const messages = await a.eventMessages(headers, name);
        assert.deepEqual(
          messages.filter((m) => /restarted|resuming/.test(m)),
          [],
          `${name}: a false restart`,
        );
      }
      assert.equal(engine.calls.launch, names.length, "a CreateStack ran twice");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("finish and destroy that AWS does not answer are tried again until they go through (issue 7 item 5)", async () => {
    const engine = new FakeEngine();
    const t = await testServer({ engine, retryMs: 50 });
    try {
      const headers = await t.profile("alice");
      engine.unreachable.finish = 2;
      const posted = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers,
        payload: { stack_name: "flaky", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202);
      const online = await eventually(
        async () => {
          const got = (await t.server.app.inject({ method: "GET", url: "/clusters/flaky", headers })).json();
          return got.status === "creating" ? undefined : got;
        },
        10_000,
        "flaky to leave creating",
      );
      assert.equal(online.status, "online", JSON.stringify(online.reasons));
      assert.equal(engine.calls.finish, 3);

      engine.unreachable.destroy = 2;
      const deleting = await t.server.app.inject({ method: "DELETE", url: "/clusters/flaky", headers });
      assert.equal(deleting.statusCode, 202);
      await t.clusterWhen(headers, "flaky", "deleted");
      assert.equal(engine.calls.destroy, 3);
      const retries = (await t.eventMessages(headers, "flaky")).filter((m) => /trying again/.test(m));
      assert.equal(retries.length, 4, retries.join(" | "));
    } finally {
      await t.close();
    }
  });

  it("a stack that rolls back → failed, with the library's reasons", async () => {
    const engine = new FakeEngine();
    engine.failStack = "The following resource(s) failed to create: [NodeGroup]";
    const t = await testServer({ engine });
    try {
      const headers = await t.profile("alice");
      await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers,
        payload: { stack_name: "rb", key_pair: "k" },
      });
      const cluster = await t.clusterWhen(headers, "rb", "failed");
      assert.deepEqual(cluster.reasons, [engine.failStack]);
      assert.equal(cluster.result.status, "failure");
    } finally {
      await t.close();
    }
  });

  it("a stack that never completes fails at the create's timeout", async () => {
    const engine = new FakeEngine();
    engine.completeAfterPolls = 1_000_000;
    const db = tempDb();
    const t = await testServer({ engine, db, env, resume: false });
    try {
      const headers = await t.profile("alice");
      await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers,
        payload: { stack_name: "slow", key_pair: "k", timeout: 1 },
      });
      await eventually(async () => (engine.calls.stackStatuses ? true : undefined));
      // Age the job by two minutes rather than wait one.
      const store = t.server.store as SqliteStore;
      await t.server.runner.stop(0);
      store.db.prepare("UPDATE jobs SET created_at = ?").run(new Date(Date.now() - 120_000).toISOString());
      await t.close();
      const again = await testServer({ engine, db, env });
      try {
        const cluster = await again.clusterWhen(headers, "slow", "failed");
        assert.match(cluster.reasons[0], /did not finish creating within 1 minutes/);
      } finally {
        await again.close();
      }
    } finally {
      await t.close();
    }
  });

  it("status poll errors back off and are not fatal", async () => {
    const engine = new FakeEngine();
    let failures = 3;
    const real = engine.stackStatuses.bind(engine);
    engine.stackStatuses = async (credentials, region) => {
      if (failures-- > 0) throw new Error("Rate exceeded");
      return real(credentials, region);
    };
    const t = await testServer({ engine });
    try {
      const headers = await t.profile("alice");
      await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers,
        payload: { stack_name: "thr", key_pair: "k" },
      });
      await t.clusterWhen(headers, "thr", "online");
      assert.ok(t.log.text.includes("stack status poll failed; backing off"));
    } finally {
      await t.close();
    }
  });
});
