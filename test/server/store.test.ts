/** The SQLite store (migrations, WAL, the active-name rule) and the secret box / key file. */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { hashToken, loadSecretKey, parseKey, SecretBox, sameDigest } from "../../src/server/crypto.js";
import { migrations } from "../../src/server/store/migrations.js";
import { SqliteStore } from "../../src/server/store/sqlite.js";

const dir = mkdtempSync(join(tmpdir(), "pandacluster-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("SqliteStore", () => {
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

  it("one active cluster per account, region and name; a deleted one frees the name", async () => {
    const store = new SqliteStore(":memory:");
    await store.migrate();
    const profile = await store.createProfile({
      name: "p",
      email: "p@example.com",
      token_hash: hashToken("t"),
      aws_id: null,
      aws_secret_sealed: null,
      aws_region: null,
      public_keys: null,
    });
    assert.notEqual(profile, "exists");
    const input = {
      profile_id: 1,
      stack_name: "n",
      region: "us-east-1",
      account: "server",
      cluster_size: 3,
      options: {} as never,
      create_token: "pandacluster-create-test",
    };
    const answer = () => ({ status_code: 202, body: "{}", location: null });
    const first = await store.createCluster(input, undefined, answer, {});
    assert.equal(first.kind, "created");
    assert.equal((await store.createCluster(input, undefined, answer, {})).kind, "conflict");
    assert.equal(
      (await store.createCluster({ ...input, account: "key:AKIA" }, undefined, answer, {})).kind,
      "created",
    );
    if (first.kind !== "created") return;
    await store.completeJob(first.job.id, first.cluster.id, { status: "deleted" });
    assert.equal((await store.createCluster(input, undefined, answer, {})).kind, "created");
    await store.close();
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
