/**
 * The stores: one suite of Store behaviour run against both engines (SQLite, and PostgreSQL from
 * Debian's postgresql-15 started by the harness), each engine's own migration checks, and the
 * secret box / key file.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { hashToken, loadSecretKey, parseKey, SecretBox, sameDigest } from "../../src/server/crypto.js";
import { migrations } from "../../src/server/store/migrations.js";
import { PostgresStore } from "../../src/server/store/postgres.js";
import { postgresMigrations } from "../../src/server/store/postgres-migrations.js";
import { SqliteStore } from "../../src/server/store/sqlite.js";
import { LeaseLostError, type NewCluster, type Store } from "../../src/server/store/types.js";
import { type Postgres, startPostgres } from "../helpers/services.js";

const dir = mkdtempSync(join(tmpdir(), "pandacluster-store-"));
let postgres: Postgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const profileInput = (name: string) => ({
  name,
  email: `${name}@example.com`,
  token_hash: hashToken(name),
  aws_id: null,
  aws_secret_sealed: null,
  aws_region: null,
  public_keys: null,
});
const answer = () => ({ status_code: 202, body: "{}", location: null });

const engines: { name: string; open: () => Promise<Store> }[] = [
  { name: "SQLite", open: async () => new SqliteStore(":memory:") },
  { name: "PostgreSQL", open: async () => new PostgresStore(await postgres.createDatabase()) },
];

for (const engine of engines) {
  describe(`Store on ${engine.name}`, () => {
    async function fresh(): Promise<{ store: Store; profileId: number; input: NewCluster }> {
      const store = await engine.open();
      await store.migrate();
      const profile = await store.createProfile(profileInput("p"));
      assert.notEqual(profile, "exists");
      if (profile === "exists") throw new Error("unreachable");
      const input: NewCluster = {
        profile_id: profile.id,
        stack_name: "n",
        region: "us-east-1",
        account: "aws:1",
        cluster_size: 3,
        options: { channel: "beta", arch: "arm64" } as never,
        create_token: "pandacluster-create-test",
      };
      return { store, profileId: profile.id, input };
    }

    it("profiles: unique names, found by token digest and id, listed, deleted only without live clusters", async () => {
      const { store, profileId, input } = await fresh();
      try {
        assert.equal(await store.createProfile(profileInput("p")), "exists");
        const found = await store.profileByTokenHash(hashToken("p"));
        assert.equal(found?.id, profileId);
        assert.equal((await store.profileById(profileId))?.name, "p");
        assert.equal(await store.profileByTokenHash(hashToken("nobody")), undefined);
        const withKeys = await store.createProfile({
          ...profileInput("q"),
          public_keys: ["ssh-ed25519 AAAA q"],
        });
        assert.deepEqual(withKeys !== "exists" && withKeys.public_keys, ["ssh-ed25519 AAAA q"]);
        assert.deepEqual(
          (await store.listProfiles()).map((p) => p.name),
          ["p", "q"],
        );
        const created = await store.createCluster(input, undefined, answer, { message: "first" });
        assert.equal(created.kind, "created");
        assert.equal(await store.deleteProfile("p"), "has_clusters");
        assert.equal(await store.deleteProfile("nobody"), "missing");
        if (created.kind !== "created") return;
        await store.completeJob(created.job.id, created.cluster.id, { status: "deleted" });
        assert.equal(await store.deleteProfile("p"), "deleted");
        assert.equal(await store.profileByTokenHash(hashToken("p")), undefined);
      } finally {
        await store.close();
      }
    });

    it("settings are set once", async () => {
      const { store } = await fresh();
      try {
        assert.equal(await store.getSetting("k"), undefined);
        assert.equal(await store.setSettingOnce("k", "first"), "first");
        assert.equal(await store.setSettingOnce("k", "second"), "first");
        assert.equal(await store.getSetting("k"), "first");
      } finally {
        await store.close();
      }
    });

    it("one active cluster per account, region and name; a deleted one frees the name", async () => {
      const { store, input } = await fresh();
      try {
        const first = await store.createCluster(input, undefined, answer, {});
        assert.equal(first.kind, "created");
        assert.equal((await store.createCluster(input, undefined, answer, {})).kind, "conflict");
        assert.equal(
          (await store.createCluster({ ...input, account: "aws:2" }, undefined, answer, {})).kind,
          "created",
        );
        if (first.kind !== "created") return;
        await store.completeJob(first.job.id, first.cluster.id, { status: "deleted" });
        assert.equal((await store.createCluster(input, undefined, answer, {})).kind, "created");
      } finally {
        await store.close();
      }
    });

    it("concurrent creates of one name: exactly one is created", async () => {
      const { store, input } = await fresh();
      try {
        // Half of them by another profile of the same AWS account: no profile lock orders those.
        const other = await store.createProfile(profileInput("other"));
        if (other === "exists") throw new Error("exists");
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.createCluster(i % 2 ? { ...input, profile_id: other.id } : input, undefined, answer, {}),
          ),
        );
        assert.deepEqual(outcomes.map((o) => o.kind).sort(), [...Array(7).fill("conflict"), "created"]);
      } finally {
        await store.close();
      }
    });

    it("idempotency: the same key and request replays, another request is refused, purge forgets", async () => {
      const { store, input } = await fresh();
      try {
        const key = { key: "k1", request_hash: "h1" };
        const first = await store.createCluster(
          input,
          key,
          () => ({ status_code: 202, body: '{"a":1}', location: "/clusters/n" }),
          {},
        );
        assert.equal(first.kind, "created");
        const again = await store.createCluster(input, key, answer, {});
        assert.deepEqual(again, {
          kind: "replay",
          answer: { request_hash: "h1", status_code: 202, body: '{"a":1}', location: "/clusters/n" },
        });
        assert.equal(
          (await store.createCluster(input, { key: "k1", request_hash: "h2" }, answer, {})).kind,
          "key_reused",
        );
        assert.equal(await store.purgeIdempotency("9999-01-01T00:00:00.000Z"), 1);
        assert.equal((await store.createCluster(input, key, answer, {})).kind, "conflict");
      } finally {
        await store.close();
      }
    });

    it("clusters by name, view, list (superseded and deleted hidden), patches; events in order", async () => {
      const { store, profileId, input } = await fresh();
      try {
        const first = await store.createCluster(input, undefined, answer, { message: "one" });
        assert.equal(first.kind, "created");
        if (first.kind !== "created") return;
        assert.equal(first.cluster.status, "creating");
        assert.deepEqual(first.cluster.options, { channel: "beta", arch: "arm64" });
        await store.updateCluster(first.cluster.id, { stack_id: "arn:1" });
        await store.addEvent(first.cluster.id, { message: "two" });
        await store.completeJob(first.job.id, first.cluster.id, {
          status: "failed",
          reasons: ["boom"],
          result: { status: "failure" },
        });
        const failed = await store.clusterByName(profileId, "n");
        assert.equal(failed?.status, "failed");
        assert.deepEqual(failed?.reasons, ["boom"]);
        assert.deepEqual(failed?.result, { status: "failure" });
        assert.equal(failed?.stack_id, "arn:1");
        const second = await store.createCluster(input, undefined, answer, { message: "again" });
        assert.equal(second.kind, "created");
        const listed = await store.listClusters(profileId);
        assert.equal(listed.length, 1, "the failed cluster of the same name is superseded");
        assert.equal(listed[0]?.status, "creating");
        assert.equal(listed[0]?.channel, "beta");
        assert.equal(listed[0]?.arch, "arm64");
        assert.equal((await store.listClusters(profileId, "eu-west-1")).length, 0);
        const view = await store.clusterViewByName(profileId, "n", "us-east-1");
        assert.equal(view?.status, "creating");
        assert.equal(view?.reasons_json, "[]");
        const events = await store.listEvents(first.cluster.id);
        assert.deepEqual(
          events.map((e) => e.message),
          ["one", "two"],
        );
        assert.ok((events[0]?.seq ?? 0) < (events[1]?.seq ?? 0));
        assert.deepEqual(
          (await store.listEvents(first.cluster.id, events[0]?.seq)).map((e) => e.message),
          ["two"],
        );
      } finally {
        await store.close();
      }
    });

    it("destroy: online → deleting with its job; a creating cluster is busy; deleting is unchanged", async () => {
      const { store, input } = await fresh();
      try {
        const created = await store.createCluster(input, undefined, answer, {});
        if (created.kind !== "created") throw new Error(created.kind);
        assert.equal((await store.startDestroy(created.cluster.id, {})).kind, "busy");
        await store.completeJob(created.job.id, created.cluster.id, { status: "online" });
        const started = await store.startDestroy(created.cluster.id, { message: "delete" });
        assert.equal(started.kind, "started");
        assert.equal(started.kind === "started" && started.job.kind, "destroy");
        assert.equal((await store.startDestroy(created.cluster.id, {})).kind, "unchanged");
        const noStack = await store.createCluster({ ...input, stack_name: "nostack" }, undefined, answer, {});
        if (noStack.kind !== "created") throw new Error(noStack.kind);
        await store.completeJob(noStack.job.id, noStack.cluster.id, { status: "failed" });
        const gone = await store.startDestroy(noStack.cluster.id, { message: "delete" });
        assert.equal(gone.kind, "unchanged", "a failed cluster without a stack is deleted at once");
        assert.equal(gone.cluster.status, "deleted");
        assert.deepEqual(
          (await store.unfinishedJobs()).map((j) => j.kind),
          ["destroy"],
        );
      } finally {
        await store.close();
      }
    });

    it("jobs: leases are taken once, renewed, released; phases count attempts", async () => {
      const { store, input } = await fresh();
      try {
        const created = await store.createCluster(input, undefined, answer, {});
        if (created.kind !== "created") throw new Error(created.kind);
        const later = new Date(Date.now() + 60_000).toISOString();
        assert.deepEqual(
          (await store.claimJobs("a", later)).map((j) => j.id),
          [created.job.id],
        );
        assert.deepEqual(await store.claimJobs("b", later), [], "b cannot take a's live lease");
        assert.equal((await store.claimJobs("a", later, created.job.id)).length, 1, "a holds it");
        await store.renewLeases("a", later);
        await store.releaseLeases("a");
        assert.equal((await store.claimJobs("b", later)).length, 1, "released: b takes it");
        const expired = new Date(Date.now() - 1_000).toISOString();
        await store.renewLeases("b", expired);
        assert.equal((await store.claimJobs("c", later)).length, 1, "an expired lease is free");
        const born = await store.createCluster(
          { ...input, stack_name: "born" },
          undefined,
          answer,
          {},
          {
            owner: "d",
            until: later,
          },
        );
        if (born.kind !== "created") throw new Error(born.kind);
        assert.deepEqual(await store.claimJobs("e", later), [], "a job born leased is not free");
        assert.equal((await store.claimJobs("d", later, born.job.id)).length, 1);
        const phase = await store.setJobPhase(created.job.id, "formation");
        assert.equal(phase.phase, "formation");
        assert.equal(phase.attempts, 1);
        assert.equal((await store.setJobPhase(created.job.id, "formation")).attempts, 2);
      } finally {
        await store.close();
      }
    });

    it("fencing: every write of a job carries its lease; once another server took the job, the old holder's phase, completion, event and cluster writes change nothing", async () => {
      const { store, input } = await fresh();
      try {
        const later = new Date(Date.now() + 60_000).toISOString();
        const born = await store.createCluster(
          input,
          undefined,
          answer,
          { message: "first" },
          {
            owner: "a",
            until: later,
          },
        );
        if (born.kind !== "created") throw new Error(born.kind);
        const id = born.job.id;
        const clusterId = born.cluster.id;
        assert.equal(born.job.lease_generation, 1, "a job born leased is at generation 1");
        const [again] = await store.claimJobs("a", later, id);
        assert.equal(again?.lease_generation, 1, "its own holder taking it again keeps the generation");
        const a = { job_id: id, owner: "a", generation: 1 };
        assert.equal(await store.holdsLease(a), true);
        assert.equal((await store.setJobPhase(id, "formation", a)).phase, "formation");
        await store.addEvent(clusterId, { message: "by a" }, a);
        await store.updateCluster(clusterId, { stack_id: "arn:a" }, a);
        assert.deepEqual(await store.renewLeases("a", later), [{ id, lease_generation: 1 }]);

        // a is paused past its lease; b takes the job over.
        await store.renewLeases("a", new Date(Date.now() - 1_000).toISOString());
        const [taken] = await store.claimJobs("b", later);
        assert.equal(taken?.id, id);
        assert.equal(taken?.lease_generation, 2, "the generation grows when the lease changes hands");
        assert.equal(await store.holdsLease(a), false);
        const b = { job_id: id, owner: "b", generation: 2 };
        assert.equal(await store.holdsLease(b), true);
        assert.deepEqual(await store.renewLeases("a", later), [], "a holds nothing any more");

        const events = (await store.listEvents(clusterId)).length;
        await assert.rejects(store.setJobPhase(id, "finish", a), LeaseLostError);
        await assert.rejects(
          store.completeJob(id, clusterId, { status: "failed", reasons: ["stale"] }, a),
          LeaseLostError,
        );
        await assert.rejects(store.addEvent(clusterId, { message: "stale" }, a), LeaseLostError);
        await assert.rejects(store.updateCluster(clusterId, { stack_id: "arn:stale" }, a), LeaseLostError);
        // The same owner name under an older generation is refused too (a restarted claim).
        await assert.rejects(
          store.addEvent(clusterId, { message: "stale" }, { ...b, generation: 1 }),
          LeaseLostError,
        );
        const [job] = await store.unfinishedJobs();
        assert.equal(job?.phase, "formation", "the stale phase write changed nothing");
        assert.equal((await store.listEvents(clusterId)).length, events, "no stale event stored");
        const cluster = await store.clusterById(clusterId);
        assert.equal(cluster?.status, "creating");
        assert.equal(cluster?.stack_id, "arn:a");

        // b finishes; from then on no fence matches (the job is done).
        await store.completeJob(id, clusterId, { status: "online" }, b);
        assert.equal(await store.holdsLease(b), false);
        await assert.rejects(store.completeJob(id, clusterId, { status: "failed" }, b), LeaseLostError);
        await assert.rejects(store.completeJob(id, clusterId, { status: "failed" }, a), LeaseLostError);
        assert.equal((await store.clusterById(clusterId))?.status, "online");
        // Unfenced writes (routes, the reconciler) are as before.
        await store.addEvent(clusterId, { message: "route" });
      } finally {
        await store.close();
      }
    });

    it("event sequence numbers are 64-bit: reading after 2147483648 (or 2^53 - 1) is no error", async () => {
      const { store, input } = await fresh();
      try {
        const created = await store.createCluster(input, undefined, answer, { message: "first" });
        if (created.kind !== "created") throw new Error(created.kind);
        assert.deepEqual(await store.listEvents(created.cluster.id, 2_147_483_648), []);
        assert.deepEqual(await store.listEvents(created.cluster.id, Number.MAX_SAFE_INTEGER), []);
        const [first] = await store.listEvents(created.cluster.id);
        assert.equal(typeof first?.seq, "number");
      } finally {
        await store.close();
      }
    });

    it("many claimers at once: every job is taken by exactly one", async () => {
      const { store, input } = await fresh();
      try {
        await store.setProfileQuota("p", 100);
        for (let i = 0; i < 12; i++) {
          await store.createCluster({ ...input, stack_name: `c${i}` }, undefined, answer, {});
        }
        const later = new Date(Date.now() + 60_000).toISOString();
        const taken = await Promise.all(["a", "b", "c", "d"].map((owner) => store.claimJobs(owner, later)));
        const ids = taken.flat().map((j) => j.id);
        assert.equal(ids.length, 12);
        assert.equal(new Set(ids).size, 12);
      } finally {
        await store.close();
      }
    });

    it("quota: a profile's live clusters up to max_clusters (default 10); a same-name retry of a failed one and deleted ones do not count", async () => {
      const { store, profileId, input } = await fresh();
      try {
        assert.equal((await store.profileById(profileId))?.max_clusters, 10);
        assert.equal((await store.setProfileQuota("p", 2))?.max_clusters, 2);
        assert.equal(await store.setProfileQuota("nobody", 2), undefined);
        const one = await store.createCluster({ ...input, stack_name: "a" }, undefined, answer, {});
        const two = await store.createCluster({ ...input, stack_name: "b" }, undefined, answer, {});
        if (one.kind !== "created" || two.kind !== "created") throw new Error("not created");
        assert.deepEqual(await store.createCluster({ ...input, stack_name: "c" }, undefined, answer, {}), {
          kind: "quota",
          limit: 2,
          live: 2,
        });
        await store.completeJob(one.job.id, one.cluster.id, { status: "failed" });
        assert.equal(
          (await store.createCluster({ ...input, stack_name: "a" }, undefined, answer, {})).kind,
          "created",
          "a failed cluster's name created again replaces it",
        );
        await store.completeJob(two.job.id, two.cluster.id, { status: "deleted" });
        assert.equal(
          (await store.createCluster({ ...input, stack_name: "c" }, undefined, answer, {})).kind,
          "created",
        );
        const many = await Promise.all(
          ["d", "e", "f"].map((name) =>
            store.createCluster({ ...input, stack_name: name }, undefined, answer, {}),
          ),
        );
        assert.deepEqual(
          many.map((o) => o.kind),
          ["quota", "quota", "quota"],
        );
        await store.setProfileQuota("p", 3);
        const raced = await Promise.all(
          ["d", "e", "f"].map((name) =>
            store.createCluster({ ...input, stack_name: name }, undefined, answer, {}),
          ),
        );
        assert.deepEqual(raced.map((o) => o.kind).sort(), ["created", "quota", "quota"]);
      } finally {
        await store.close();
      }
    });

    it("announces a cluster's new events and final state", async () => {
      const { store, input } = await fresh();
      try {
        const created = await store.createCluster(input, undefined, answer, {});
        if (created.kind !== "created") throw new Error(created.kind);
        const seen: number[] = [];
        const heard = new Promise<void>((resolve) => {
          const stop = store.onClusterChange((id) => {
            // 0: "look again" once the announcements are heard (PostgreSQL's LISTEN is up).
            if (id === 0) return;
            seen.push(id);
            if (seen.length >= 2) {
              stop();
              resolve();
            }
          });
        });
        // PostgreSQL's LISTEN connection starts on the first subscription.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await store.addEvent(created.cluster.id, { message: "x" });
        await store.completeJob(created.job.id, created.cluster.id, { status: "online" });
        await heard;
        assert.ok(seen.every((id) => id === created.cluster.id));
      } finally {
        await store.close();
      }
    });
  });
}

describe("PostgresStore migrations", () => {
  it("five stores migrating one database at once apply each migration exactly once", async () => {
    const url = await postgres.createDatabase();
    const stores = Array.from({ length: 5 }, () => new PostgresStore(url));
    try {
      await Promise.all(stores.map((store) => store.migrate()));
      const rows = (await stores[0]?.pool.query("SELECT version FROM schema_migrations ORDER BY version"))
        ?.rows as { version: number }[];
      assert.deepEqual(
        rows.map((r) => r.version),
        postgresMigrations.map((m) => m.version),
      );
      await stores[1]?.migrate();
      assert.equal(
        (await stores[0]?.pool.query("SELECT count(*)::int AS n FROM schema_migrations"))?.rows[0].n,
        postgresMigrations.length,
      );
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("refuses a database from a newer pandacluster", async () => {
    const url = await postgres.createDatabase();
    const store = new PostgresStore(url);
    try {
      await store.migrate();
      await store.pool.query("INSERT INTO schema_migrations VALUES (999, 'future', 'x')");
      await assert.rejects(store.migrate(), /schema version 999/);
    } finally {
      await store.close();
    }
  });
});

describe("SqliteStore migrations", () => {
  it("migrates once, records the versions, runs in WAL mode", async () => {
    const path = join(dir, "a.db");
    const store = new SqliteStore(path);
    await store.migrate();
    await store.migrate();
    const versions = store.db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[];
    assert.deepEqual(
      versions.map((v) => v.version),
      migrations.map((m) => m.version),
    );
    assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
    await store.close();
    const again = new SqliteStore(path);
    await again.migrate();
    assert.equal(
      (again.db.prepare("SELECT count(*) AS n FROM schema_migrations").get() as { n: number }).n,
      migrations.length,
    );
    await again.close();
  });

  it("upgrades a version-1 database in place, keeping its clusters", async () => {
    const path = join(dir, "v1.db");
    const old = new Database(path);
    old.exec(migrations[0]?.sql ?? "");
    old.exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    old.prepare("INSERT INTO schema_migrations VALUES (1, 'v1', 'x')").run();
    old
      .prepare("INSERT INTO profiles (name, email, token_hash, created_at) VALUES ('p', 'p@e.x', 'h', 'x')")
      .run();
    const insert = old.prepare(
      `INSERT INTO clusters (profile_id, stack_name, region, account, status, cluster_size, options, created_at, updated_at)
       VALUES (1, 'same', 'us-east-1', 'server', ?, 3, '{"channel":"beta","arch":"arm64"}', 'x', 'x')`,
    );
    insert.run("failed");
    insert.run("online");
    old.close();
    const store = new SqliteStore(path);
    await store.migrate();
    const listed = await store.listClusters(1);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.status, "online");
    assert.equal(listed[0]?.channel, "beta");
    assert.equal(listed[0]?.arch, "arm64");
    await store.close();
  });

  it("refuses a database from a newer pandacluster", async () => {
    const path = join(dir, "b.db");
    const store = new SqliteStore(path);
    await store.migrate();
    store.db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 'x')").run();
    await store.close();
    const old = new SqliteStore(path);
    assert.throws(() => old.migrateSync(), /schema version 999/);
    await old.close();
  });
});

describe("secrets", () => {
  it("seals with AES-256-GCM: opens with the same key and context only; tampering is detected", () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    const sealed = box.seal("s3cret-value", "alice");
    assert.ok(!sealed.includes("s3cret"));
    assert.notEqual(
      box.seal("s3cret-value", "alice"),
      sealed,
      "the same secret sealed twice must differ (fresh IV)",
    );
    assert.equal(box.open(sealed, "alice"), "s3cret-value");
    assert.throws(() => box.open(sealed, "bob"));
    assert.throws(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed, "alice"));
    const parts = sealed.split(":");
    const data = Buffer.from(parts[3] ?? "", "base64");
    data[0] = (data[0] ?? 0) ^ 1;
    parts[3] = data.toString("base64");
    assert.throws(() => box.open(parts.join(":"), "alice"));
    assert.equal(JSON.stringify({ box }), '{"box":"[SecretBox]"}');
  });

  it("creates the key file with mode 0600 once, and refuses one that others can read", () => {
    const keyFile = join(dir, "keys", "server.key");
    const first = loadSecretKey({}, keyFile);
    assert.equal(first.created, true);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const second = loadSecretKey({}, keyFile);
    assert.equal(second.created, false);
    assert.ok(second.key.equals(first.key));
    assert.equal(readFileSync(keyFile, "utf8").trim().length, 64);
    chmodSync(keyFile, 0o644);
    assert.throws(() => loadSecretKey({}, keyFile), /readable by others/);
  });

  it("takes PANDACLUSTER_SECRET_KEY as hex or base64 and refuses anything else", () => {
    const hex = "ab".repeat(32);
    assert.ok(
      loadSecretKey({ PANDACLUSTER_SECRET_KEY: hex }, join(dir, "unused.key")).key.equals(
        Buffer.from(hex, "hex"),
      ),
    );
    assert.equal(parseKey(Buffer.alloc(32, 1).toString("base64"), "k").length, 32);
    assert.throws(() => parseKey("short", "PANDACLUSTER_SECRET_KEY"), /32-byte key/);
  });

  it("compares token digests in constant time, and only equal ones match", () => {
    assert.ok(sameDigest(hashToken("a"), hashToken("a")));
    assert.ok(!sameDigest(hashToken("a"), hashToken("b")));
    assert.ok(!sameDigest("", ""));
  });
});
