/**
 * Issue 14, server HTTP hygiene: answers are never cached or sniffed, a token in the query never
 * reaches the request log, Accept q=0 is a refusal, Last-Event-ID is range-checked (400) and 64-bit
 * (PostgreSQL, Debian's postgresql-15: 2147483648 was a 500 and a stream with no `end`), and PATCH
 * refuses the fields that name a cluster. The library is FakeEngine: these are the server's own rules.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Postgres, startPostgres } from "../helpers/services.js";
import { FakeEngine } from "./fake-engine.js";
import { admin, eventually, type TestServer, testServer } from "./helpers.js";
import { readEvents } from "./sse.js";

let postgres: Postgres;
let t: TestServer;
let alice: { authorization: string };

before(async () => {
  postgres = await startPostgres();
  t = await testServer({ engine: new FakeEngine() });
  alice = await t.profile("alice");
  const posted = await t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers: alice,
    payload: { stack_name: "web", key_pair: "k" },
  });
  assert.equal(posted.statusCode, 202, posted.body);
  await t.clusterWhen(alice, "web", "online");
});
after(async () => {
  await t?.close();
  await postgres?.stop();
});

describe("HTTP hygiene (issue 14)", () => {
  it("every API answer says Cache-Control: no-store and X-Content-Type-Options: nosniff; the dashboard keeps its own caching", async () => {
    const answers = [
      await t.server.app.inject({ method: "GET", url: "/clusters", headers: alice }),
      await t.server.app.inject({
        method: "POST",
        url: "/profiles",
        headers: admin,
        payload: { name: "bob", email: "bob@example.com" },
      }),
      await t.server.app.inject({ method: "GET", url: "/clusters" }),
      await t.server.app.inject({ method: "GET", url: "/nowhere", headers: alice }),
      await t.server.app.inject({ method: "GET", url: "/clusters/web/events", headers: alice }),
    ];
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [200, 201, 401, 404, 200],
    );
    for (const answer of answers) {
      assert.equal(answer.headers["cache-control"], "no-store", answer.body);
      assert.equal(answer.headers["x-content-type-options"], "nosniff");
    }
    const asset = await t.server.app.inject({ method: "GET", url: "/ui/app.js" });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers["cache-control"], "no-cache");
    assert.equal(asset.headers["x-content-type-options"], "nosniff");
  });

  it("a token in the query (?access_token=) never lands in the request log; the API's own parameters stay readable", async () => {
    const secret = "pc_profile_0123456789SECRETTOKEN";
    const answer = await t.server.app.inject({
      method: "GET",
      url: `/clusters?region=us-east-1&access_token=${secret}&include_deleted=true&Token=${secret}x`,
      headers: alice,
    });
    assert.equal(answer.statusCode, 200);
    assert.ok(!t.log.text.includes(secret), "the token is in the log");
    assert.match(
      t.log.text,
      /\/clusters\?region=us-east-1&access_token=\*\*\*&include_deleted=true&Token=\*\*\*/,
    );
  });

  it("Accept: text/event-stream;q=0 is a refusal: JSON, not a stream", async () => {
    for (const accept of [
      "text/event-stream;q=0",
      "text/event-stream; q=0.0, application/json",
      "application/json, text/event-stream;q=0.5",
    ]) {
      const answer = await t.server.app.inject({
        method: "GET",
        url: "/clusters/web/events",
        headers: { ...alice, accept },
      });
      assert.equal(answer.statusCode, 200);
      assert.match(String(answer.headers["content-type"]), /^application\/json/, accept);
      assert.ok(Array.isArray(answer.json()), accept);
    }
  });

  it("Last-Event-ID / after that is not a sequence number is 400 (never 500), on the JSON route and when a stream is asked", async () => {
    for (const value of ["abc", "-1", "1e3", "99999999999999999999", "9007199254740992"]) {
      for (const accept of ["application/json", "text/event-stream"]) {
        const answer = await t.server.app.inject({
          method: "GET",
          url: "/clusters/web/events",
          headers: { ...alice, accept, "last-event-id": value },
        });
        assert.equal(answer.statusCode, 400, `${value} ${accept}: ${answer.body}`);
        assert.match(answer.json().messages[0], /^Last-Event-ID: .* is not an event sequence number/);
      }
    }
    const query = await t.server.app.inject({
      method: "GET",
      url: "/clusters/web/events?after=x",
      headers: alice,
    });
    assert.equal(query.statusCode, 400);
  });

  it("PATCH refuses stack_name and region in its body, naming them", async () => {
    const answer = await t.server.app.inject({
      method: "PATCH",
      url: "/clusters/web",
      headers: alice,
      payload: { workers: 2, region: "eu-west-1", stack_name: "other" },
    });
    assert.equal(answer.statusCode, 400, answer.body);
    const messages: string[] = answer.json().messages;
    assert.ok(
      messages.some((m) => /^stack_name: not allowed in the body/.test(m)),
      messages.join(" | "),
    );
    assert.ok(
      messages.some((m) => /^region: not allowed in the body/.test(m)),
      messages.join(" | "),
    );
  });

  it("on PostgreSQL, Last-Event-ID 2147483648 (past 32 bits) reads nothing newer: 200 [] and a stream that ends with `end`", async () => {
    const pg = await testServer({
      db: await postgres.createDatabase(),
      engine: new FakeEngine(),
      env: { PANDACLUSTER_SECRET_KEY: "66".repeat(32) },
    });
    try {
      const bob = await pg.profile("bob");
      const posted = await pg.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: bob,
        payload: { stack_name: "big", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202, posted.body);
      await pg.clusterWhen(bob, "big", "online");
      const json = await pg.server.app.inject({
        method: "GET",
        url: "/clusters/big/events",
        headers: { ...bob, "last-event-id": "2147483648" },
      });
      assert.equal(json.statusCode, 200, json.body);
      assert.deepEqual(json.json(), []);
      const base = await pg.server.app.listen({ host: "127.0.0.1", port: 0 });
      const stream = await readEvents(`${base}/clusters/big/events`, {
        ...bob,
        "last-event-id": "2147483648",
      });
      await stream.ended;
      assert.equal(stream.status, 200);
      assert.deepEqual(
        stream.frames.map((f) => f.event),
        ["end"],
      );
      assert.equal(JSON.parse(stream.frames[0]?.data ?? "{}").status, "online");
    } finally {
      await pg.close();
    }
  });

  it("GET ?live=true with AWS hanging answers in time with the stored state, not after the SDK's minutes", async () => {
    /** DescribeStacks that never answers (an endpoint that accepts and stays silent). */
    class HangingEngine extends FakeEngine {
      override async status(): Promise<{ status: string }> {
        return new Promise(() => {});
      }
    }
    const hanging = await testServer({ engine: new HangingEngine(), liveTimeoutMs: 300 });
    try {
      const carol = await hanging.profile("carol");
      const posted = await hanging.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: carol,
        payload: { stack_name: "slow", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202, posted.body);
      await hanging.clusterWhen(carol, "slow", "online");
      const started = Date.now();
      const answer = await hanging.server.app.inject({
        method: "GET",
        url: "/clusters/slow?live=true",
        headers: carol,
      });
      const took = Date.now() - started;
      assert.equal(answer.statusCode, 200, answer.body);
      assert.ok(took < 3_000, `took ${took} ms`);
      const body = answer.json();
      assert.equal(body.status, "online");
      assert.equal(body.live, null);
      assert.equal(body.live_error, "AWS did not answer within 1 s; this is the stored state");
    } finally {
      await hanging.close();
    }
  });

  it("the event streams a profile may hold open are counted over every replica on the store, not per replica", async () => {
    const db = await postgres.createDatabase();
    const slow = () => Object.assign(new FakeEngine(), { completeAfterPolls: 1_000_000 });
    const options = { db, eventStream: { perProfile: 2 }, env: { PANDACLUSTER_SECRET_KEY: "99".repeat(32) } };
    const a = await testServer({ ...options, engine: slow() });
    const b = await testServer({ ...options, engine: slow() });
    const streams: { close(): void; ended: Promise<void> }[] = [];
    try {
      const dana = await a.profile("dana");
      const posted = await a.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: dana,
        payload: { stack_name: "long", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202, posted.body);
      const onA = await a.server.app.listen({ host: "127.0.0.1", port: 0 });
      const onB = await b.server.app.listen({ host: "127.0.0.1", port: 0 });
      for (let i = 0; i < 2; i++) {
        const open = await readEvents(`${onA}/clusters/long/events`, dana);
        assert.equal(open.status, 200);
        streams.push(open);
      }
      const third = await fetch(`${onB}/clusters/long/events`, {
        headers: { ...dana, accept: "text/event-stream" },
      });
      assert.equal(third.status, 429, "the other replica let a third stream open");
      assert.match(
        ((await third.json()) as { messages: string[] }).messages[0] ?? "",
        /already follows 2 event streams \(at most 2\)/,
      );
      const first = streams.shift();
      first?.close();
      await eventually(
        async () => {
          const again = await fetch(`${onB}/clusters/long/events`, {
            headers: { ...dana, accept: "text/event-stream" },
          });
          if (again.status !== 200) {
            await again.body?.cancel();
            return undefined;
          }
          streams.push({ close: () => void again.body?.cancel(), ended: Promise.resolve() });
          return true;
        },
        30_000,
        "a stream to open on B once one on A closed",
      );
    } finally {
      for (const open of streams) open.close();
      await a.close();
      await b.close();
    }
  });
});
