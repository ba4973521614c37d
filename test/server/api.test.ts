/**
 * The HTTP API's own behaviour — auth, validation, conflicts, idempotency, the OpenAPI document,
 * secrets — through Fastify's inject(), with the library replaced by FakeEngine (test/server/
 * fake-engine.ts) so that calls can be counted. The end-to-end tests (e2e.test.ts) run the real
 * library against moto.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AccountLookupError } from "../../src/aws/identity.js";
import type { ArgumentSpec } from "../../src/definitions.js";
import { commandSpec } from "../../src/definitions.js";
import { checkValue } from "../../src/options.js";
import { httpArguments } from "../../src/server/schemas.js";
import type { SqliteStore } from "../../src/server/store/sqlite.js";
import { FakeEngine } from "./fake-engine.js";
import { ADMIN_TOKEN, admin, eventually, type TestServer, testServer } from "./helpers.js";

const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

describe("HTTP API (library replaced by FakeEngine)", () => {
  let t: TestServer;
  let engine: FakeEngine;
  let alice: { authorization: string };
  let bob: { authorization: string };

  before(async () => {
    engine = new FakeEngine();
    t = await testServer({ engine });
    alice = await t.profile("alice");
    bob = await t.profile("bob");
  });
  after(() => t.close());

  let barriers = 0;
  /**
   * Nothing was launched for `names`: waits until a create sent now is launched (the runner takes
   * jobs in the order they came), then looks. A fixed sleep instead passes trivially under load.
   */
  async function assertNotLaunched(...names: string[]): Promise<void> {
    const barrier = `barrier-${++barriers}`;
    const sent = await inject("POST", "/clusters", alice, { stack_name: barrier, key_pair: "k" });
    assert.equal(sent.statusCode, 202, sent.body);
    await eventually(
      async () => (engine.launched.includes(barrier) ? true : undefined),
      30_000,
      `the launch of ${barrier}, sent after ${names.join(", ")}`,
    );
    for (const name of names) assert.ok(!engine.launched.includes(name), `${name} was launched`);
  }

  const inject = (
    method: "GET" | "POST" | "DELETE",
    url: string,
    headers: Record<string, string> = {},
    payload?: unknown,
  ) =>
    t.server.app.inject({
      method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  describe("auth", () => {
    it("GET / and GET /healthz need no token", async () => {
      assert.equal((await inject("GET", "/")).statusCode, 200);
      const health = await inject("GET", "/healthz");
      assert.equal(health.statusCode, 200);
      assert.equal(health.json().status, "ok");
    });

    it("no token → 401 with a Bearer challenge", async () => {
      const answer = await inject("GET", "/clusters");
      assert.equal(answer.statusCode, 401);
      assert.match(String(answer.headers["www-authenticate"]), /^Bearer/);
      assert.equal(answer.json().error, "unauthorized");
    });

    it("wrong token → 401; a malformed header → 401", async () => {
      assert.equal(
        (await inject("GET", "/clusters", { authorization: "Bearer pcp_not-a-real-token" })).statusCode,
        401,
      );
      assert.equal(
        (await inject("GET", "/clusters", { authorization: `Basic ${ADMIN_TOKEN}` })).statusCode,
        401,
      );
    });

    it("admin-only route with a profile token → 403; profile route with the admin token → 403", async () => {
      const answer = await inject("POST", "/profiles", alice, { name: "mallory", email: "m@example.com" });
      assert.equal(answer.statusCode, 403);
      assert.equal((await inject("GET", "/profiles", alice)).statusCode, 403);
      assert.equal((await inject("GET", "/clusters", admin)).statusCode, 403);
    });

    it("another profile's cluster → 404 for GET, events and DELETE", async () => {
      const created = await inject("POST", "/clusters", alice, { stack_name: "alice-only", key_pair: "k" });
      assert.equal(created.statusCode, 202);
      assert.equal((await inject("GET", "/clusters/alice-only", bob)).statusCode, 404);
      assert.equal((await inject("GET", "/clusters/alice-only/events", bob)).statusCode, 404);
      assert.equal((await inject("DELETE", "/clusters/alice-only", bob)).statusCode, 404);
      const bobs = (await inject("GET", "/clusters", bob)).json() as unknown[];
      assert.equal(bobs.length, 0);
      assert.equal((await inject("GET", "/clusters/alice-only", alice)).statusCode, 200);
    });

    it("unknown route → 404 JSON, with or without a token", async () => {
      for (const headers of [{}, alice]) {
        const answer = await inject("GET", "/no/such/route", headers);
        assert.equal(answer.statusCode, 404);
        assert.equal(answer.json().error, "not found");
      }
    });
  });

  describe("validation of POST /clusters", () => {
    /** A value that breaks the argument's rule, chosen from its definition. */
    function badValue(arg: ArgumentSpec): unknown {
      switch (arg.type) {
        case "integer":
          return (arg.max ?? 0) + 1;
        case "boolean":
          return "yes";
        case "object":
          return "units.cson";
        case "cidr":
          return "10.0.0.0/33";
        case "url":
          return "ftp://example.com/";
      }
      if (arg.allowed_values) return "not-an-allowed-value";
      if (arg.pattern) return "-bad-";
      if (arg.max_length !== undefined) return "x".repeat(arg.max_length + 1);
      return 42;
    }

    const valid = { stack_name: "valid-name", key_pair: "k" };
    const args = httpArguments("create");

    it("covers every argument the definitions give create over HTTP", () => {
      assert.ok(args.length >= 15, `only ${args.length} arguments`);
      assert.ok(!args.some((a) => a.cli_only), "cli_only arguments must not be accepted over HTTP");
    });

    for (const arg of args) {
      it(`bad ${arg.name} → 400 naming ${arg.name}, worded as the CLI words it`, async () => {
        const bad = badValue(arg);
        const answer = await inject("POST", "/clusters", alice, { ...valid, [arg.name]: bad });
        assert.equal(answer.statusCode, 400, answer.body);
        const { messages } = answer.json() as { messages: string[] };
        assert.equal(messages.length, 1, messages.join("\n"));
        // The CLI gives every value as text: its message for the same value must be the same words.
        const cliValue = typeof bad === "number" ? String(bad) : bad;
        const cli =
          arg.type === "object" || (typeof bad === "number" && arg.type !== "integer")
            ? checkValue(arg, bad, "http")
            : checkValue(arg, cliValue, "cli");
        assert.ok("problem" in cli, `the definitions accept ${JSON.stringify(bad)} for ${arg.name}`);
        assert.equal(messages[0], `${arg.name}: ${(cli as { problem: string }).problem}`);
      });
    }

    it("a missing required field, an unknown field, a wrong type: one message each, all at once", async () => {
      const answer = await inject("POST", "/clusters", alice, {
        key_pair: 7,
        colour: "blue",
        cluster_size: "3",
      });
      assert.equal(answer.statusCode, 400);
      const { messages } = answer.json() as { messages: string[] };
      assert.deepEqual(messages.sort(), [
        'cluster_size: "3" is not an integer',
        "colour: unknown option",
        "key_pair: must be a string (got 7)",
        "stack_name: is required",
      ]);
    });

    it("CLI-only arguments (json, server) are unknown over HTTP", async () => {
      const answer = await inject("POST", "/clusters", alice, { ...valid, json: true, server: "http://x" });
      assert.equal(answer.statusCode, 400);
      assert.deepEqual((answer.json() as { messages: string[] }).messages.sort(), [
        "json: unknown option",
        "server: unknown option",
      ]);
    });

    it("arguments naming the server's files or AWS profiles are refused with the reason", async () => {
      const answer = await inject("POST", "/clusters", alice, {
        ...valid,
        template_path: "/etc/passwd",
        profile: "prod",
      });
      assert.equal(answer.statusCode, 400);
      const { messages } = answer.json() as { messages: string[] };
      assert.deepEqual(messages.sort(), [
        "profile: is not accepted over HTTP: it names an AWS profile of the server's machine; clusters use the caller's profile credentials or the server's own",
        "template_path: is not accepted over HTTP: it names a file on the server",
      ]);
    });

    it("discovery_service must be one the server may call (no fetching of arbitrary URLs)", async () => {
      const answer = await inject("POST", "/clusters", alice, {
        ...valid,
        discovery_service: "http://169.254.169.254/latest/meta-data#",
      });
      assert.equal(answer.statusCode, 400);
      const { messages } = answer.json() as { messages: string[] };
      assert.equal(messages.length, 1);
      assert.match(
        messages[0] ?? "",
        /^discovery_service: http:\/\/169\.254\.169\.254\/latest\/meta-data# is not a discovery service this server calls \(it calls https:\/\/discovery\.etcd\.io\)/,
      );
      const allowed = await inject("POST", "/clusters", alice, {
        ...valid,
        stack_name: "disc-ok",
        discovery_service: "https://discovery.etcd.io/",
      });
      assert.equal(allowed.statusCode, 202);
    });

    it("inline units may carry unit text only, never a path on the server (create and templates)", async () => {
      const units = [
        { name: "leak.service", content: "/etc/passwd" },
        {
          name: "ok.service",
          content_text: "[Unit]\n",
          drop_ins: [{ name: "10-x.conf", content: "/etc/shadow" }],
        },
      ];
      for (const [url, body] of [
        ["/clusters", { ...valid, units }],
        ["/templates", { units }],
      ] as const) {
        const answer = await inject("POST", url, alice, body);
        assert.equal(answer.statusCode, 400, answer.body);
        assert.deepEqual((answer.json() as { messages: string[] }).messages, [
          "units[0].content: is not accepted over HTTP: it names a file on the server; give the text as content_text",
          "units[1].drop_ins[0].content: is not accepted over HTTP: it names a file on the server; give the text as content_text",
        ]);
      }
    });

    it("a body that is not a JSON object → 400; not JSON → 400; another media type → 415", async () => {
      assert.equal((await inject("POST", "/clusters", alice, [1, 2])).statusCode, 400);
      const notJson = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: { ...alice, "content-type": "application/json" },
        payload: "{nope",
      });
      assert.equal(notJson.statusCode, 400);
      assert.equal(notJson.json().error, "invalid request");
      const text = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: { ...alice, "content-type": "text/plain" },
        payload: "stack_name=x",
      });
      assert.equal(text.statusCode, 415);
    });

    it("an empty body with Content-Type: application/json is an empty object (DELETE, POST)", async () => {
      const bob = await t.profile("bob-empty");
      const created = await inject("POST", "/clusters", bob, { stack_name: "bobs", key_pair: "k" });
      assert.equal(created.statusCode, 202);
      for (const payload of ["", "  \n"]) {
        // Another profile's cluster: 404 (not the 400 of an unparsed body, which hid it).
        const other = await t.server.app.inject({
          method: "DELETE",
          url: "/clusters/bobs",
          headers: { ...alice, "content-type": "application/json" },
          payload,
        });
        assert.equal(other.statusCode, 404, other.body);
        const post = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: { ...alice, "content-type": "application/json" },
          payload,
        });
        assert.equal(post.statusCode, 400);
        assert.match(post.body, /stack_name: is required/);
      }
      await t.clusterWhen(bob, "bobs", "online");
      const own = await t.server.app.inject({
        method: "DELETE",
        url: "/clusters/bobs",
        headers: { ...bob, "content-type": "application/json" },
      });
      assert.equal(own.statusCode, 202, own.body);
    });

    it("the token is checked before the body is parsed: no token or a bad one → 401 whatever the body", async () => {
      for (const headers of [{}, { authorization: "Bearer nope-nope-nope" }]) {
        const answer = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: { ...headers, "content-type": "application/json" },
          payload: "{not json",
        });
        assert.equal(answer.statusCode, 401, answer.body);
        const big = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: { ...headers, "content-type": "application/json" },
          payload: `{"x":"${"a".repeat(2 * 1024 * 1024)}"}`,
        });
        assert.equal(big.statusCode, 401);
      }
    });

    it("quota: max_clusters (default 10, set by the admin) → 403 naming the quota; nothing launched", async () => {
      const created = await t.server.app.inject({
        method: "POST",
        url: "/profiles",
        headers: admin,
        payload: { name: "quota", email: "q@example.com", max_clusters: 1 },
      });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().max_clusters, 1);
      const q = { authorization: `Bearer ${created.json().token}` };
      assert.equal(
        (await inject("POST", "/clusters", q, { stack_name: "q1", key_pair: "k" })).statusCode,
        202,
      );
      const over = await inject("POST", "/clusters", q, { stack_name: "q2", key_pair: "k" });
      assert.equal(over.statusCode, 403);
      assert.equal(over.json().error, "quota exceeded");
      assert.match(over.json().messages[0], /at most 1 live clusters \(quota max_clusters\) and has 1/);
      await assertNotLaunched("q2");
      const raised = await t.server.app.inject({
        method: "PATCH",
        url: "/profiles/quota",
        headers: admin,
        payload: { max_clusters: 2 },
      });
      assert.equal(raised.statusCode, 200, raised.body);
      assert.equal(raised.json().max_clusters, 2);
      assert.equal(
        (await inject("POST", "/clusters", q, { stack_name: "q2", key_pair: "k" })).statusCode,
        202,
      );
      for (const payload of [
        { max_clusters: -1 },
        { max_clusters: 1.5 },
        { name: "x", max_clusters: 1 },
        {},
      ]) {
        const bad = await t.server.app.inject({
          method: "PATCH",
          url: "/profiles/quota",
          headers: admin,
          payload,
        });
        assert.equal(bad.statusCode, 400, JSON.stringify(payload));
      }
      const byProfile = await t.server.app.inject({
        method: "PATCH",
        url: "/profiles/quota",
        headers: q,
        payload: { max_clusters: 100 },
      });
      assert.equal(byProfile.statusCode, 403, "a profile cannot raise its own quota");
      const missing = await t.server.app.inject({
        method: "PATCH",
        url: "/profiles/nobody",
        headers: admin,
        payload: { max_clusters: 1 },
      });
      assert.equal(missing.statusCode, 404);
      const plain = await inject("POST", "/profiles", admin, { name: "plain", email: "p@example.com" });
      assert.equal(plain.json().max_clusters, 10, "the default quota");
      const listed = await t.server.app.inject({ method: "GET", url: "/profiles", headers: admin });
      assert.equal(listed.json().find((p: { name: string }) => p.name === "plain").max_clusters, 10);
    });

    it("nothing is launched for an invalid request", async () => {
      const refused = await inject("POST", "/clusters", alice, {
        stack_name: "x",
        key_pair: "k",
        cluster_size: 99,
      });
      assert.equal(refused.statusCode, 400, refused.body);
      await assertNotLaunched("x");
      // Negative control: the check fails for a create that was accepted.
      await inject("POST", "/clusters", alice, { stack_name: "accepted", key_pair: "k" });
      await assert.rejects(assertNotLaunched("accepted"), /accepted was launched/);
    });
  });

  describe("create, conflicts and idempotency", () => {
    it("POST → 202 + Location + {stack_name, status: creating}; then online with the result", async () => {
      const answer = await inject("POST", "/clusters", alice, {
        stack_name: "web",
        key_pair: "k",
        cluster_size: 5,
      });
      assert.equal(answer.statusCode, 202);
      assert.equal(answer.headers.location, "/clusters/web");
      assert.deepEqual(answer.json(), { stack_name: "web", region: "us-east-1", status: "creating" });
      const cluster = await t.clusterWhen(alice, "web", "online");
      assert.equal(cluster.cluster_size, 5);
      assert.equal(cluster.result.status, "success");
      assert.deepEqual(Object.keys(cluster).sort(), [
        "cluster_size",
        "created_at",
        "image_warning",
        "reasons",
        "region",
        "result",
        "stack_name",
        "status",
        "updated_at",
      ]);
      const list = (await inject("GET", "/clusters", alice)).json() as Record<string, unknown>[];
      const web = list.find((c) => c.stack_name === "web");
      assert.deepEqual(Object.keys(web ?? {}).sort(), [
        "arch",
        "channel",
        "cluster_size",
        "created_at",
        "image_warning",
        "region",
        "stack_id",
        "stack_name",
        "status",
      ]);
    });

    it("the same name active for the same account and region → 409, also from another profile", async () => {
      assert.equal(
        (await inject("POST", "/clusters", alice, { stack_name: "dup", key_pair: "k" })).statusCode,
        202,
      );
      const again = await inject("POST", "/clusters", alice, { stack_name: "dup", key_pair: "k" });
      assert.equal(again.statusCode, 409);
      assert.match(
        (again.json() as { messages: string[] }).messages[0] ?? "",
        /dup is already (creating|online) in us-east-1/,
      );
      // bob uses the server's credentials too: the same AWS account.
      assert.equal(
        (await inject("POST", "/clusters", bob, { stack_name: "dup", key_pair: "k" })).statusCode,
        409,
      );
      // Another region is another namespace.
      assert.equal(
        (await inject("POST", "/clusters", alice, { stack_name: "dup", key_pair: "k", region: "eu-west-1" }))
          .statusCode,
        202,
      );
    });

    it("a profile with its own AWS account does not conflict with the server's", async () => {
      assert.equal(
        (await inject("POST", "/clusters", alice, { stack_name: "acct", key_pair: "k" })).statusCode,
        202,
      );
      const carol = await t.profile("carol", { aws: { id: "AKIAIOSFODNN7EXAMPLE", secret: AWS_SECRET } });
      assert.equal(
        (await inject("POST", "/clusters", carol, { stack_name: "acct", key_pair: "k" })).statusCode,
        202,
      );
    });

    it("Idempotency-Key replays the first answer and creates once; another body with it → 422", async () => {
      const headers = { ...alice, "idempotency-key": "key-123" };
      const body = { stack_name: "idem", key_pair: "k" };
      const first = await inject("POST", "/clusters", headers, body);
      assert.equal(first.statusCode, 202);
      await eventually(
        async () => (engine.launched.includes("idem") ? true : undefined),
        30_000,
        "idem's launch",
      );
      // Replayed even though the cluster is now active (a plain repeat would be a 409).
      const second = await inject("POST", "/clusters", headers, { key_pair: "k", stack_name: "idem" });
      assert.equal(second.statusCode, 202);
      assert.equal(second.body, first.body);
      assert.equal(second.headers.location, first.headers.location);
      assert.equal(second.headers["idempotent-replayed"], "true");
      await assertNotLaunched();
      assert.equal(engine.launched.filter((name) => name === "idem").length, 1, "the replay launched again");
      const other = await inject("POST", "/clusters", headers, { stack_name: "idem2", key_pair: "k" });
      assert.equal(other.statusCode, 422);
      // Keys are per profile: bob's same key is a new request.
      const bobs = await inject(
        "POST",
        "/clusters",
        { ...bob, "idempotency-key": "key-123" },
        { stack_name: "idem-bob", key_pair: "k" },
      );
      assert.equal(bobs.statusCode, 202);
    });

    it("concurrent identical requests with one Idempotency-Key create one cluster", async () => {
      const headers = { ...alice, "idempotency-key": "burst" };
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          inject("POST", "/clusters", headers, { stack_name: "burst", key_pair: "k" }),
        ),
      );
      assert.deepEqual(new Set(answers.map((a) => a.statusCode)), new Set([202]));
      const list = (await inject("GET", "/clusters?include_deleted=true", alice)).json() as {
        stack_name: string;
      }[];
      assert.equal(list.filter((c) => c.stack_name === "burst").length, 1);
      const store = t.server.store as SqliteStore;
      const rows = store.db
        .prepare("SELECT count(*) AS n FROM clusters WHERE stack_name = 'burst'")
        .get() as { n: number };
      assert.equal(rows.n, 1);
    });

    it("dry_run answers at once with the library's answer and stores nothing", async () => {
      const answer = await inject("POST", "/clusters", alice, {
        stack_name: "dry",
        key_pair: "k",
        dry_run: true,
      });
      assert.equal(answer.statusCode, 200);
      assert.equal(answer.json().dry_run, true);
      assert.equal((await inject("GET", "/clusters/dry", alice)).statusCode, 404);
    });
  });

  describe("the AWS account of the 409 rule (STS GetCallerIdentity, here FakeEngine.accountId)", () => {
    const kimKey = "AKIAKIM0000000000001";
    const leeKey = "AKIALEE0000000000002";

    it("two access keys of one account: the second create of a name → 409; STS asked once per key, also by concurrent requests", async () => {
      engine.keyAccounts.set(kimKey, "444455556666");
      engine.keyAccounts.set(leeKey, "444455556666");
      engine.accountDelayMs = 50;
      try {
        const kim = await t.profile("kim", { aws: { id: kimKey, secret: AWS_SECRET } });
        const lee = await t.profile("lee", { aws: { id: leeKey, secret: AWS_SECRET } });
        const asked = engine.calls.accountId ?? 0;
        const burst = await Promise.all(
          ["acc-a", "acc-b", "acc-c"].map((name) =>
            inject("POST", "/clusters", kim, { stack_name: name, key_pair: "k" }),
          ),
        );
        assert.deepEqual(
          burst.map((a) => a.statusCode),
          [202, 202, 202],
        );
        assert.equal(engine.calls.accountId, asked + 1, "three requests at once, one STS call");
        const again = await inject("POST", "/clusters", lee, { stack_name: "acc-a", key_pair: "k" });
        assert.equal(again.statusCode, 409, again.body);
        assert.match(
          (again.json() as { messages: string[] }).messages[0] ?? "",
          // lee is another profile: told the name is taken, not the state of kim's cluster.
          /the name acc-a is taken in us-east-1 for this AWS account/,
        );
        assert.equal(
          (await inject("POST", "/clusters", lee, { stack_name: "acc-b", key_pair: "k" })).statusCode,
          409,
        );
        assert.equal(
          (await inject("POST", "/clusters", kim, { stack_name: "acc-c", key_pair: "k" })).statusCode,
          409,
        );
        assert.equal(engine.calls.accountId, asked + 2, "one STS call per key, not per request");
        // The server's own credentials are another account here: no conflict with them.
        assert.equal(
          (await inject("POST", "/clusters", alice, { stack_name: "acc-a", key_pair: "k" })).statusCode,
          202,
        );
      } finally {
        engine.accountDelayMs = 0;
      }
    });

    it("STS unreachable → 503 + Retry-After, STS refuses → 502; nothing recorded, no secret; asked again next time", async () => {
      const maxKey = "AKIAMAX0000000000003";
      const max = await t.profile("max", { aws: { id: maxKey, secret: AWS_SECRET } });
      const asked = engine.calls.accountId ?? 0;
      const body = { stack_name: "no-account", key_pair: "k" };
      let down: Awaited<ReturnType<typeof inject>>;
      let refused: Awaited<ReturnType<typeof inject>>;
      try {
        engine.failAccount = new AccountLookupError(
          "finding the AWS account of the credentials (STS GetCallerIdentity) failed: cannot reach AWS (connect ECONNREFUSED 127.0.0.1:1)",
          true,
        );
        down = await inject("POST", "/clusters", max, body);
        engine.failAccount = new AccountLookupError(
          "finding the AWS account of the credentials (STS GetCallerIdentity) failed: InvalidClientTokenId: The security token included in the request is invalid.",
          false,
        );
        refused = await inject("POST", "/clusters", max, body);
      } finally {
        engine.failAccount = undefined;
      }
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.headers["retry-after"], "10");
      assert.equal(down.json().error, "AWS account unknown");
      assert.match(down.json().messages[0], /STS GetCallerIdentity\) failed: cannot reach AWS/);
      assert.equal(refused.statusCode, 502, refused.body);
      assert.equal(refused.headers["retry-after"], undefined);
      assert.match(refused.json().messages[0], /InvalidClientTokenId/);
      assert.equal((await inject("GET", "/clusters/no-account", max)).statusCode, 404);
      for (const text of [down.body, refused.body, t.log.text]) {
        assert.ok(!text.includes(AWS_SECRET), "the secret is shown");
        assert.ok(!text.includes(maxKey), "the key id is shown");
      }
      assert.match(t.log.text, /create refused: the AWS account of the profile's credentials is unknown/);
      // A failure is not remembered: STS answers now, and the create goes through.
      assert.equal((await inject("POST", "/clusters", max, body)).statusCode, 202);
      assert.equal(engine.calls.accountId, asked + 3);
    });

    it("an access key's account is kept in the store (a restart does not ask STS again)", async () => {
      const dir = mkdtempSync(join(tmpdir(), "pandacluster-accounts-"));
      const db = join(dir, "server.db");
      const ninaKey = "AKIANINA000000000004";
      const piaKey = "AKIAPIA0000000000005";
      const first = new FakeEngine();
      first.keyAccounts.set(ninaKey, "777788889999");
      first.keyAccounts.set(piaKey, "777788889999");
      const one = await testServer({ engine: first, db });
      let nina: { authorization: string };
      let olga: { authorization: string };
      try {
        nina = await one.profile("nina", { aws: { id: ninaKey, secret: AWS_SECRET } });
        olga = await one.profile("olga");
        const pia = await one.profile("pia", { aws: { id: piaKey, secret: AWS_SECRET } });
        const post = (headers: { authorization: string }, stack_name: string) =>
          one.server.app.inject({
            method: "POST",
            url: "/clusters",
            headers,
            payload: { stack_name, key_pair: "k" },
          });
        assert.equal((await post(nina, "taken")).statusCode, 202);
        // pia's other key of the same account sees nina's cluster.
        assert.equal((await post(pia, "taken")).statusCode, 409);
        assert.equal((await post(olga, "mine")).statusCode, 202);
        assert.equal(first.calls.accountId, 3);
      } finally {
        await one.close();
      }
      const second = new FakeEngine();
      // Not resumed: this FakeEngine knows none of the first one's stacks, so a resumed job would
      // fail its cluster (freeing the name) while this test asks about the names.
      const two = await testServer({ engine: second, db, resume: false });
      try {
        const post = (headers: { authorization: string }, stack_name: string) =>
          two.server.app.inject({
            method: "POST",
            url: "/clusters",
            headers,
            payload: { stack_name, key_pair: "k" },
          });
        assert.equal((await post(nina, "taken")).statusCode, 409);
        assert.equal(second.calls.accountId ?? 0, 0, "an access key's account was asked again");
        // The server's credential chain may have changed since: asked again after a restart.
        assert.equal((await post(olga, "mine")).statusCode, 409);
        assert.equal(second.calls.accountId, 1);
      } finally {
        await two.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("events and delete", () => {
    it("events come oldest first, with ?after= for the new ones only", async () => {
      await inject("POST", "/clusters", alice, { stack_name: "ev", key_pair: "k" });
      await eventually(async () =>
        (await inject("GET", "/clusters/ev", alice)).json().status === "online" ? true : undefined,
      );
      const events = (await inject("GET", "/clusters/ev/events", alice)).json() as {
        seq: number;
        message: string;
      }[];
      assert.ok(events.length >= 3);
      assert.match(events[0]?.message ?? "", /create requested/);
      assert.equal(events.at(-1)?.message, "cluster is online");
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
      );
      const later = (
        await inject("GET", `/clusters/ev/events?after=${events[1]?.seq}`, alice)
      ).json() as unknown[];
      assert.equal(later.length, events.length - 2);
      assert.equal((await inject("GET", "/clusters/ev/events?after=x", alice)).statusCode, 400);
    });

    it("DELETE → 202 deleting → deleted; again → 200 deleted; a delete during create → 409", async () => {
      engine.launchDelayMs = 200;
      await inject("POST", "/clusters", alice, { stack_name: "gone", key_pair: "k" });
      assert.equal((await inject("DELETE", "/clusters/gone", alice)).statusCode, 409);
      engine.launchDelayMs = 0;
      await eventually(async () =>
        (await inject("GET", "/clusters/gone", alice)).json().status === "online" ? true : undefined,
      );
      const answer = await inject("DELETE", "/clusters/gone", alice);
      assert.equal(answer.statusCode, 202);
      assert.equal(answer.json().status, "deleting");
      await eventually(async () =>
        (await inject("GET", "/clusters/gone", alice)).json().status === "deleted" ? true : undefined,
      );
      const again = await inject("DELETE", "/clusters/gone", alice);
      assert.equal(again.statusCode, 200);
      assert.equal(again.json().status, "deleted");
      assert.ok(
        !((await inject("GET", "/clusters", alice)).json() as { stack_name: string }[]).some(
          (c) => c.stack_name === "gone",
        ),
      );
      const messages = (
        (await inject("GET", "/clusters/gone/events", alice)).json() as { message: string }[]
      ).map((e) => e.message);
      assert.ok(messages.includes("delete requested"));
      assert.equal(messages.at(-1), "cluster deleted");
      // The name is free again.
      assert.equal(
        (await inject("POST", "/clusters", alice, { stack_name: "gone", key_pair: "k" })).statusCode,
        202,
      );
    });

    it("a failed launch → failed with the reason; the name can be created again", async () => {
      engine.failLaunch = "key pair nope does not exist in us-east-1 (existing: k)";
      await inject("POST", "/clusters", alice, { stack_name: "bad-key", key_pair: "nope" });
      const cluster = await t.clusterWhen(alice, "bad-key", "failed");
      engine.failLaunch = undefined;
      assert.deepEqual(cluster.reasons, ["key pair nope does not exist in us-east-1 (existing: k)"]);
      assert.equal(
        (await inject("POST", "/clusters", alice, { stack_name: "bad-key", key_pair: "k" })).statusCode,
        202,
      );
    });
  });

  describe("OpenAPI and templates", () => {
    it("GET / is an OpenAPI 3 document whose request schema is generated from the definitions", async () => {
      const doc = (await inject("GET", "/")).json();
      assert.match(doc.openapi, /^3\./);
      const create = doc.components.schemas.CreateClusterRequest;
      const expected = commandSpec("create")
        .arguments.filter((a) => !a.cli_only && !["template_path", "profile"].includes(a.name))
        .map((a) => a.name);
      assert.deepEqual(Object.keys(create.properties).sort(), expected.sort());
      assert.deepEqual(create.required.sort(), ["key_pair", "stack_name"]);
      assert.equal(create.properties.cluster_size.minimum, 3);
      assert.equal(create.properties.cluster_size.maximum, 7);
      assert.deepEqual(create.properties.channel.enum, ["stable", "beta", "alpha", "lts"]);
      assert.equal(create.additionalProperties, false);
      for (const path of [
        "/clusters",
        "/clusters/{stack_name}",
        "/clusters/{stack_name}/events",
        "/profiles",
        "/templates",
      ]) {
        assert.ok(doc.paths[path], `missing ${path}`);
      }
    });

    it("POST /templates validates like build_template and never writes on the server", async () => {
      const bad = await inject("POST", "/templates", alice, {
        virtualization: "pv",
        write_path: "/tmp/x.json",
      });
      assert.equal(bad.statusCode, 400);
      const { messages } = bad.json() as { messages: string[] };
      assert.equal(messages.length, 2);
      assert.ok(messages.some((m) => m.startsWith('virtualization: "pv" is refused')));
      assert.ok(messages.some((m) => m.startsWith("write_path: is not accepted over HTTP")));
      const good = await inject("POST", "/templates", alice, { channel: "beta" });
      assert.equal(good.statusCode, 200);
      assert.ok(good.json().template);
    });
  });

  describe("profiles and secrets", () => {
    it("POST /profiles validates each field and refuses a duplicate name", async () => {
      const bad = await inject("POST", "/profiles", admin, {
        name: "Bad Name",
        email: "nope",
        aws: { id: "x" },
        extra: 1,
      });
      assert.equal(bad.statusCode, 400);
      const { messages } = bad.json() as { messages: string[] };
      assert.equal(messages.length, 5, messages.join("\n"));
      const dup = await inject("POST", "/profiles", admin, { name: "alice", email: "a@example.com" });
      assert.equal(dup.statusCode, 409);
    });

    it("an AWS secret is stored sealed, never returned, never logged; tokens are stored hashed", async () => {
      const created = await inject("POST", "/profiles", admin, {
        name: "dana",
        email: "dana@example.com",
        aws: { id: "AKIAIOSFODNN7EXAMPLE", secret: AWS_SECRET, region: "eu-west-1" },
      });
      assert.equal(created.statusCode, 201);
      const token = created.json().token as string;
      assert.ok(!created.body.includes(AWS_SECRET));
      const listed = await inject("GET", "/profiles", admin);
      assert.ok(!listed.body.includes(AWS_SECRET));
      assert.ok(!listed.body.includes(token));
      assert.ok(!listed.body.includes("AKIAIOSFODNN7EXAMPLE"));
      const store = t.server.store as SqliteStore;
      const dump = JSON.stringify(store.db.prepare("SELECT * FROM profiles").all());
      assert.ok(!dump.includes(AWS_SECRET), "the secret is in the database in clear");
      assert.ok(!dump.includes(token), "a token is in the database in clear");
      // Its clusters go to its region by default.
      const dana = { authorization: `Bearer ${token}` };
      const answer = await inject("POST", "/clusters", dana, { stack_name: "dana-1", key_pair: "k" });
      assert.equal(answer.json().region, "eu-west-1");
      assert.ok(!t.log.text.includes(AWS_SECRET), "the secret is in the log");
      assert.ok(!t.log.text.includes(token), "a token is in the log");
      assert.ok(!t.log.text.includes(ADMIN_TOKEN), "the admin token is in the log");
      assert.ok(t.log.text.length > 0, "nothing was logged at all");
    });

    it("DELETE /profiles/{name} refuses while clusters remain", async () => {
      // A profile and a cluster of this test's own (alice's clusters come from other tests).
      const dora = await t.profile("dora");
      const created = await inject("POST", "/clusters", dora, { stack_name: "doras", key_pair: "k" });
      assert.equal(created.statusCode, 202, created.body);
      assert.equal((await inject("DELETE", "/profiles/dora", admin)).statusCode, 409);
      assert.equal((await inject("DELETE", "/profiles/nobody", admin)).statusCode, 404);
      await t.profile("erin");
      assert.equal((await inject("DELETE", "/profiles/erin", admin)).statusCode, 204);
    });
  });
});
