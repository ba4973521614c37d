/**
 * Profiles that hold an IAM role, as the routes take them (issue 19): role_arn in POST and PATCH
 * /profiles, the generated external id (distinct per profile, stable once made), the access kind
 * GET /profiles shows, bad input named field by field, and a role profile's clusters counted in
 * the role's account without asking STS in the request. The library is the fake engine; the
 * AssumeRole itself is proven against moto in roles-e2e.test.ts and aws/role-credentials.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Accounts } from "../../src/server/accounts.js";
import { SecretBox } from "../../src/server/crypto.js";
import type { ProfileRecord } from "../../src/server/store/types.js";
import { FakeEngine } from "./fake-engine.js";
import { admin, testServer } from "./helpers.js";

const roleA = "arn:aws:iam::111122223333:role/pandacluster-a";
const roleB = "arn:aws:iam::111122223333:role/team/pandacluster-b";
const keys = { id: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };

describe("profiles with a role", () => {
  it("POST and PATCH take role_arn; external ids are distinct and stable; GET /profiles says how each reaches AWS", async () => {
    const engine = new FakeEngine();
    const t = await testServer({ engine });
    try {
      const post = (payload: Record<string, unknown>) =>
        t.server.app.inject({ method: "POST", url: "/profiles", headers: admin, payload });
      const patch = (name: string, payload: Record<string, unknown>) =>
        t.server.app.inject({ method: "PATCH", url: `/profiles/${name}`, headers: admin, payload });

      const a = await post({
        name: "a",
        email: "a@example.com",
        role_arn: roleA,
        aws: { region: "eu-west-1" },
      });
      assert.equal(a.statusCode, 201, a.body);
      const b = await post({ name: "b", email: "b@example.com", role_arn: roleA });
      assert.equal(b.statusCode, 201, b.body);
      assert.equal(a.json().access, "role");
      assert.equal(a.json().aws, false);
      assert.notEqual(a.json().external_id, b.json().external_id);
      await post({ name: "keys", email: "k@example.com", aws: keys });
      await post({ name: "plain", email: "p@example.com" });

      // Keys → role: the keys are dropped, an external id is made; a later role change keeps it.
      const moved = await patch("keys", { role_arn: roleB });
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal(moved.json().access, "role");
      assert.equal(moved.json().aws, false);
      const externalId = moved.json().external_id;
      assert.match(externalId, /^pc-[\w-]{32}$/);
      const again = await patch("keys", { role_arn: roleA, max_clusters: 3 });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json().external_id, externalId);
      assert.equal(again.json().role_arn, roleA);
      assert.equal(again.json().max_clusters, 3);

      const listed = (await t.server.app.inject({ method: "GET", url: "/profiles", headers: admin })).json();
      assert.deepEqual(
        listed.map((p: { name: string; access: string }) => [p.name, p.access]),
        [
          ["a", "role"],
          ["b", "role"],
          ["keys", "role"],
          ["plain", "server"],
        ],
      );
      const keyed = await post({ name: "legacy", email: "l@example.com", aws: keys });
      assert.equal(keyed.json().access, "static-keys");
      assert.equal(keyed.json().external_id, null);

      for (const [payload, message] of [
        [
          { name: "x", email: "x@example.com", role_arn: "arn:aws:iam::123:role/x" },
          /^role_arn: must be an IAM role ARN/,
        ],
        [
          { name: "x", email: "x@example.com", role_arn: "arn:aws:iam::111122223333:user/x" },
          /^role_arn: must be an IAM role ARN/,
        ],
        [
          { name: "x", email: "x@example.com", role_arn: roleA, aws: keys },
          /^aws: with role_arn, only aws.region may be given/,
        ],
      ] as const) {
        const bad = await post(payload);
        assert.equal(bad.statusCode, 400, bad.body);
        assert.match(bad.json().messages.join("\n"), message);
        assert.ok(!bad.body.includes(keys.secret));
      }
      const badPatch = await patch("a", { role_arn: 7, email: "z@example.com" });
      assert.equal(badPatch.statusCode, 400);
      assert.deepEqual(badPatch.json().messages, [
        "email: cannot be changed (only max_clusters and role_arn can)",
        "role_arn: must be an IAM role ARN (arn:aws:iam::123456789012:role/name)",
      ]);
      assert.deepEqual((await patch("a", {})).json().messages, ["max_clusters or role_arn: is required"]);
      assert.equal((await patch("nobody", { role_arn: roleA })).statusCode, 404);

      // A role profile's cluster lives in the role's account: no STS call in the request.
      const token = a.json().token;
      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: { authorization: `Bearer ${token}` },
        payload: { stack_name: "r1", key_pair: "k" },
      });
      assert.equal(created.statusCode, 202, created.body);
      assert.equal(created.json().region, "eu-west-1", "the profile's region");
      const owner = (await t.server.store.listProfiles()).find((p) => p.name === "a");
      assert.ok(owner);
      const cluster = await t.server.store.clusterByName(owner.id, "r1");
      assert.equal(cluster?.account, "aws:111122223333");
      assert.equal(engine.calls.accountId, undefined);
    } finally {
      await t.close();
    }
  });

  it("two profiles naming one role with different external ids never share a poller's credentials", () => {
    const engine = new FakeEngine();
    const accounts = new Accounts({}, new SecretBox(randomBytes(32)), {
      engine,
      store: { getSetting: async () => undefined, setSettingOnce: async (_k: string, v: string) => v },
    });
    const profile = (id: number, externalId: string): ProfileRecord => ({
      id,
      name: `p${id}`,
      email: "p@example.com",
      token_hash: "00",
      aws_id: null,
      aws_secret_sealed: null,
      aws_region: null,
      public_keys: null,
      max_clusters: 10,
      created_at: "2026-12-03T00:00:00Z",
      role_arn: roleA,
      external_id: externalId,
    });
    const [one, two, again] = [profile(1, "pc-one"), profile(2, "pc-two"), profile(3, "pc-one")];
    assert.notEqual(accounts.credentialsKeyOf(one), accounts.credentialsKeyOf(two));
    assert.equal(accounts.credentialsKeyOf(one), accounts.credentialsKeyOf(again));
    assert.notEqual(
      accounts.credentialsFor(one),
      accounts.credentialsFor(two),
      "each its own credentials object",
    );
  });
});
