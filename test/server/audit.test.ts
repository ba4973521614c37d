/**
 * The audit log (issue 19): every mutating route of the OpenAPI document, called allowed and
 * refused, gives exactly one record, with nothing secret in it; the route list is walked, and
 * Fastify's own list of mutating routes must all be in the document, so a new route without audit
 * or without documentation fails here. GET /audit's filters and pages; the --audit-log file
 * (JSON lines, mode 0600); on PostgreSQL, one log shared by two replicas, and the fleet-wide
 * metrics alike on both. The library is the fake engine (no AWS needed to say who did what).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import parsePrometheus from "parse-prometheus-text-format";
import { UsageError } from "../../src/errors.js";
import { createServer } from "../../src/server/app.js";
import { type Postgres, startPostgres } from "../helpers/services.js";
import { FakeEngine } from "./fake-engine.js";
import { ADMIN_TOKEN, admin, eventually, type TestServer, testServer } from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: a test reads whichever fields of the answer it checks
type Json = any;

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-audit-"));
  dirs.push(dir);
  return dir;
};
let postgres: Postgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

async function records(t: TestServer, query = ""): Promise<Json[]> {
  const answer = await t.server.app.inject({ method: "GET", url: `/audit${query}`, headers: admin });
  assert.equal(answer.statusCode, 200, answer.body);
  return answer.json().records;
}

/** OpenAPI path → Fastify's pattern: {stack_name} → :stack_name. */
const fastifyPattern = (path: string) => path.replace(/\{([^}]+)\}/g, ":$1");

describe("audit log", () => {
  it("every mutating route of the OpenAPI document: exactly one record per request, allowed or refused, nothing secret", async () => {
    const dir = tempDir();
    const file = join(dir, "audit.jsonl");
    const engine = new FakeEngine();
    const t = await testServer({ engine, auditLog: file });
    try {
      const alice = await t.profile("alice", { aws: { id: "AKIAIOSFODNN7EXAMPLE", secret } });
      const aliceToken = alice.authorization.slice("Bearer ".length);
      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "c1", key_pair: "k" },
      });
      assert.equal(created.statusCode, 202, created.body);
      await t.clusterWhen(alice, "c1", "online");

      const doc = (await t.server.app.inject({ method: "GET", url: "/" })).json();
      const documented: { method: string; path: string }[] = [];
      for (const [path, operations] of Object.entries<Json>(doc.paths)) {
        for (const method of Object.keys(operations)) {
          if (method !== "get") documented.push({ method: method.toUpperCase(), path });
        }
      }
      assert.ok(documented.length >= 7, JSON.stringify(documented));
      // Fastify's mutating routes are all documented (and so all walked below).
      const documentedKeys = new Set(documented.map((r) => `${r.method} ${fastifyPattern(r.path)}`));
      const served = t.server.audit?.routes ?? [];
      assert.ok(served.length > 0);
      for (const route of served) {
        assert.ok(
          documentedKeys.has(`${route.method} ${route.url}`),
          `${route.method} ${route.url} is not in GET /`,
        );
      }

      const callers: [string, Record<string, string>][] = [
        ["admin", admin],
        ["profile:alice", alice],
        ["anonymous", {}],
        ["anonymous", { authorization: "Bearer not-a-token" }],
      ];
      for (const { method, path } of documented) {
        const url = path.replace("{stack_name}", "c1").replace("{name}", "bob");
        for (const [actor, headers] of callers) {
          const before = await records(t, "?limit=1");
          const answer = await t.server.app.inject({
            method: method as "POST",
            url,
            headers: { ...headers, "content-type": "application/json" },
            payload: JSON.stringify(
              path === "/profiles"
                ? { name: "bob", email: "bob@example.com", aws: { id: "AKIAIOSFODNN7EXAMPLE", secret } }
                : {},
            ),
          });
          const newer = await records(t, "?limit=10");
          const fresh = newer.filter((r) => r.id > (before[0]?.id ?? 0));
          assert.equal(
            fresh.length,
            1,
            `${actor} ${method} ${url} → ${answer.statusCode}: ${JSON.stringify(fresh)}`,
          );
          const record = fresh[0];
          assert.equal(record.method, method);
          assert.equal(record.route, fastifyPattern(path));
          assert.equal(record.status, answer.statusCode);
          assert.equal(record.actor, actor);
          assert.equal(record.source, "127.0.0.1");
          assert.match(record.request_id, /\S/);
          assert.ok(!Number.isNaN(Date.parse(record.at)));
          if (path.includes("{stack_name}")) assert.equal(record.target, "cluster:c1");
          if (path.includes("{name}")) assert.equal(record.target, "profile:bob");
          assert.deepEqual(Object.keys(record).sort(), [
            "actor",
            "at",
            "id",
            "method",
            "request_id",
            "route",
            "source",
            "status",
            "target",
          ]);
        }
      }
      // The request that created bob was allowed and names him; the others were refused.
      const bobs = await records(t, "?profile=bob&limit=1000");
      assert.ok(bobs.some((r) => r.route === "/profiles" && r.status === 201 && r.target === "profile:bob"));
      assert.ok(bobs.some((r) => r.status === 401 && r.actor === "anonymous"));

      // Nothing secret, in the store's log or the file; the file is 0600 and has every record.
      const all = await records(t, "?limit=1000");
      const lines = readFileSync(file, "utf8").trim().split("\n");
      assert.equal(lines.length, all.length);
      assert.deepEqual(
        lines.map((line) => JSON.parse(line).id),
        all.map((r) => r.id).reverse(),
      );
      assert.equal(statSync(file).mode & 0o777, 0o600);
      for (const text of [JSON.stringify(all), readFileSync(file, "utf8")]) {
        for (const hidden of [secret, aliceToken, ADMIN_TOKEN, "not-a-token", "AKIAIOSFODNN7EXAMPLE"])
          assert.ok(!text.includes(hidden), `the audit log shows ${hidden.slice(0, 6)}…`);
      }
      // Reads are not audited.
      const count = all.length;
      await t.server.app.inject({ method: "GET", url: "/clusters/c1", headers: alice });
      assert.equal((await records(t, "?limit=1000")).length, count);
    } finally {
      await t.close();
    }
  });

  it("GET /audit: admin only, filters by profile, cluster and time, pages with before=; bad queries are 400", async () => {
    const t = await testServer({ engine: new FakeEngine() });
    try {
      const alice = await t.profile("alice");
      const bob = await t.profile("bob");
      const start = new Date().toISOString();
      for (const [who, name] of [
        [alice, "a1"],
        [alice, "a2"],
        [bob, "b1"],
      ] as const) {
        const answer = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: who,
          payload: { stack_name: name, key_pair: "k" },
        });
        assert.equal(answer.statusCode, 202, answer.body);
      }
      await eventually(async () => ((await t.clusterWhen(alice, "a2", "online")) ? true : undefined));
      const deleted = await t.server.app.inject({ method: "DELETE", url: "/clusters/a1", headers: alice });
      assert.ok([202, 409].includes(deleted.statusCode), "online or still creating: either way one record");

      const forbidden = await t.server.app.inject({ method: "GET", url: "/audit", headers: alice });
      assert.equal(forbidden.statusCode, 403);
      assert.deepEqual(
        (await records(t, "?cluster=a1")).map((r) => [r.method, r.target]),
        [
          ["DELETE", "cluster:a1"],
          ["POST", "cluster:a1"],
        ],
      );
      const alices = await records(t, "?profile=alice");
      assert.ok(alices.every((r) => r.actor === "profile:alice" || r.target === "profile:alice"));
      assert.equal(alices.filter((r) => r.route === "/clusters").length, 2);
      assert.ok(
        alices.some((r) => r.route === "/profiles" && r.actor === "admin"),
        "alice's creation by the admin",
      );
      // Time filters, inclusive, against the records' own times.
      const all = await records(t);
      const pivot = all.find((r) => r.target === "cluster:a1" && r.method === "POST")?.at;
      assert.ok(pivot && pivot >= start);
      const ids = (list: Json[]) => list.map((r) => r.id);
      const since = await records(t, `?since=${encodeURIComponent(pivot)}`);
      assert.deepEqual(ids(since), ids(all.filter((r) => r.at >= pivot)));
      assert.ok(since.length >= 4 && since.length < all.length + 1);
      const until = await records(t, `?until=${encodeURIComponent(pivot)}`);
      assert.deepEqual(ids(until), ids(all.filter((r) => r.at <= pivot)));
      assert.ok(until.some((r) => r.route === "/profiles"));
      assert.ok(!until.some((r) => r.method === "DELETE"));

      // Pages: newest first, next → before=.
      const first = await t.server.app.inject({ method: "GET", url: "/audit?limit=4", headers: admin });
      const page1 = first.json();
      assert.equal(page1.records.length, 4);
      assert.equal(page1.next, page1.records[3].id);
      const page2 = (
        await t.server.app.inject({
          method: "GET",
          url: `/audit?limit=4&before=${page1.next}`,
          headers: admin,
        })
      ).json();
      assert.equal(page2.records.length, 2);
      assert.equal(page2.next, null);
      const paged = ids([...page1.records, ...page2.records]);
      assert.deepEqual(paged, ids(all), "the pages together are the whole log, newest first");
      assert.deepEqual(
        paged,
        [...paged].sort((a, b) => b - a),
      );

      const bad = await t.server.app.inject({
        method: "GET",
        url: "/audit?since=yesterday&limit=0&who=x",
        headers: admin,
      });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json().messages, [
        "who: unknown query parameter",
        'limit: must be an integer from 1 to 1000 (got "0")',
        "since: must be a time (ISO 8601, e.g. 2026-12-03T09:00:00Z)",
      ]);
    } finally {
      await t.close();
    }
  });

  it("--audit-log: a file others can read is refused, naming the fix (exit 2); lines are appended across starts", async () => {
    const dir = tempDir();
    const file = join(dir, "audit.jsonl");
    writeFileSync(file, "");
    chmodSync(file, 0o644);
    await assert.rejects(
      createServer({
        db: ":memory:",
        env: { PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN },
        auditLog: file,
        logger: false,
      }),
      (error: unknown) =>
        error instanceof UsageError &&
        /readable or writable by others \(mode 644\); run: chmod 600/.test(error.message),
    );
    chmodSync(file, 0o600);
    const db = join(dir, "server.db");
    for (const name of ["one", "two"]) {
      const t = await testServer({ engine: new FakeEngine(), db, auditLog: file });
      try {
        await t.profile(name);
      } finally {
        await t.close();
      }
    }
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((r) => r.target),
      ["profile:one", "profile:two"],
    );
  });

  it("PostgreSQL: two replicas share one audit log, and report the same fleet-wide metrics", async () => {
    const db = await postgres.createDatabase();
    const engine = new FakeEngine();
    const env = { PANDACLUSTER_SECRET_KEY: "a".repeat(64) };
    const one = await testServer({ engine, db, env });
    const two = await testServer({ engine, db, env, resume: false });
    try {
      const alice = await one.profile("alice", { role_arn: "arn:aws:iam::123456789012:role/deployer" });
      const created = await two.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "shared", key_pair: "k" },
      });
      assert.equal(created.statusCode, 202, created.body);
      await one.clusterWhen(alice, "shared", "online");
      for (const t of [one, two]) {
        const seen = await records(t);
        assert.deepEqual(
          seen.map((r) => `${r.method} ${r.route} ${r.status}`),
          ["POST /clusters 202", "POST /profiles 201"],
        );
        const profiles = (
          await t.server.app.inject({ method: "GET", url: "/profiles", headers: admin })
        ).json();
        assert.equal(profiles[0].access, "role");
        assert.match(profiles[0].external_id, /^pc-/);
        const families = parsePrometheus(
          (await t.server.app.inject({ method: "GET", url: "/metrics", headers: admin })).body,
        );
        const clusters = families.find((f) => f.name === "pandacluster_clusters");
        assert.deepEqual(
          clusters?.metrics.map((m) => [m.labels?.status, m.value]),
          [["online", "1"]],
        );
        const jobs = families.find((f) => f.name === "pandacluster_jobs");
        assert.deepEqual(
          jobs?.metrics.map((m) => [m.labels?.kind, m.labels?.state, m.value]),
          [["create", "done", "1"]],
        );
      }
    } finally {
      await two.close();
      await one.close();
    }
  });
});
