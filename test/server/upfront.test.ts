/**
 * Issue 7, low items on POST/DELETE /clusters (library replaced by FakeEngine, which counts
 * launches): input that can be checked up front — units' shape, unknown {{placeholders}}, a deeply
 * nested units object — is a 400 at request time, never a 202 whose job fails later holding the
 * name (or a 500); a profile's failed record can always be deleted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeEngine } from "./fake-engine.js";
import { type TestServer, testServer } from "./helpers.js";

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

const post = (headers: { authorization: string }, body: string, extra: Record<string, string> = {}) =>
  t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers: { ...headers, "content-type": "application/json", ...extra },
    payload: body,
  });

async function nothingHeld(name: string): Promise<void> {
  const answer = await t.server.app.inject({ method: "GET", url: `/clusters/${name}`, headers: alice });
  assert.equal(answer.statusCode, 404, `a record holds ${name}: ${answer.body}`);
}

describe("checked up front over HTTP (issue 7, low)", () => {
  it("an unknown {{placeholder}} in a unit → 400 naming it; nothing stored, nothing launched", async () => {
    const launches = engine.calls.launch ?? 0;
    const answer = await post(
      alice,
      JSON.stringify({
        stack_name: "placeholder",
        key_pair: "k",
        units: [{ name: "a.service", content_text: "[Service]\nExecStart=/bin/echo {{no_such_variable}}\n" }],
      }),
    );
    assert.equal(answer.statusCode, 400, answer.body);
    assert.match(answer.body, /unknown placeholder \{\{no_such_variable\}\}/);
    await nothingHeld("placeholder");
    assert.equal(engine.calls.launch ?? 0, launches);
    // A placeholder a create knows (stack_name) is fine.
    const good = await post(
      alice,
      JSON.stringify({
        stack_name: "placeholder",
        key_pair: "k",
        units: [{ name: "a.service", content_text: "[Service]\nExecStart=/bin/echo {{stack_name}}\n" }],
      }),
    );
    assert.equal(good.statusCode, 202, good.body);
  });

  for (const [name, units] of [
    ["a unit without a name", '[{"content_text":"x"}]'],
    ["a unit with an unknown key", '[{"name":"a.service","content_text":"x","contents":"y"}]'],
    ["units as an object", '{"name":"a.service","content_text":"x"}'],
    ["a drop-in without content_text", '[{"name":"a.service","drop_ins":[{"name":"a.conf"}]}]'],
  ]) {
    it(`units' shape: ${name} → 400 at once, not 202`, async () => {
      const answer = await post(alice, `{"stack_name":"shape","key_pair":"k","units":${units}}`);
      assert.equal(answer.statusCode, 400, answer.body);
      await nothingHeld("shape");
    });
  }

  for (const depth of [5_000, 100_000]) {
    it(`a units object nested ${depth} deep → 400, not 500 (with and without an Idempotency-Key)`, async () => {
      const body = `{"stack_name":"deep","key_pair":"k","units":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
      const extras: Record<string, string>[] = [{}, { "idempotency-key": `deep-${depth}` }];
      for (const extra of extras) {
        const answer = await post(alice, body, extra);
        assert.equal(answer.statusCode, 400, answer.body.slice(0, 300));
      }
      await nothingHeld("deep");
    });
  }
});

describe("a failed record can be deleted (issue 7, low)", () => {
  it("bob's failed create, then alice takes the name: bob's DELETE → 200 deleted, not 409", async () => {
    engine.failLaunch = "CloudFormation refused to create stack taken2: it was a bad day";
    try {
      assert.equal((await post(bob, '{"stack_name":"taken2","key_pair":"k"}')).statusCode, 202);
      await t.clusterWhen(bob, "taken2", "failed");
    } finally {
      engine.failLaunch = undefined;
    }
    assert.equal((await post(alice, '{"stack_name":"taken2","key_pair":"k"}')).statusCode, 202);
    const deleted = await t.server.app.inject({ method: "DELETE", url: "/clusters/taken2", headers: bob });
    assert.equal(deleted.statusCode, 200, deleted.body);
    assert.equal(deleted.json().status, "deleted");
    const listed = (await t.server.app.inject({ method: "GET", url: "/clusters", headers: bob })).json();
    assert.deepEqual(listed, []);
    await t.clusterWhen(alice, "taken2", "online");
  });
});
