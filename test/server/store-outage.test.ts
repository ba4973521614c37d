/**
 * Issue 14 High 3: no store error ends the process. A server on PostgreSQL (Debian's postgresql-15)
 * reached through a cuttable TCP proxy (test/helpers/tcp-cut.ts: open connections closed, new ones
 * refused, as clients see a database that stopped). The library is FakeEngine with a gate on
 * finish(), so that the database goes away exactly as a create job finishes. Before the fix, the
 * job's catch awaited completeJob, which threw again, and the unhandled rejection ended Node.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import { type Postgres, startPostgres } from "../helpers/services.js";
import { CuttableTcp } from "../helpers/tcp-cut.js";
import { FakeEngine } from "./fake-engine.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

/** FakeEngine whose finish() waits until release() (and says when it was reached). */
class GatedEngine extends FakeEngine {
  #open: () => void = () => {};
  #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  reached = false;
  release(): void {
    this.#open();
  }
  override async finish(
    credentials: unknown,
    ref: { stack_name: string; region?: string; stack_id?: string },
  ): Promise<ClusterResult> {
    this.reached = true;
    await this.#gate;
    return super.finish(credentials, ref);
  }
}

let postgres: Postgres;
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);

before(async () => {
  postgres = await startPostgres();
  process.on("unhandledRejection", onUnhandled);
});
after(async () => {
  process.off("unhandledRejection", onUnhandled);
  await postgres?.stop();
});

async function serverBehindProxy(leaseMs: number) {
  const direct = await postgres.createDatabase();
  const proxy = new CuttableTcp(postgres.port);
  const port = await proxy.start();
  const url = direct.replace(`:${postgres.port}/`, `:${port}/`);
  const engine = new GatedEngine();
  const t: TestServer = await testServer({
    db: url,
    engine,
    leaseMs,
    retryMs: 50,
    env: { PANDACLUSTER_SECRET_KEY: "44".repeat(32) },
  });
  return { proxy, engine, t };
}

describe("PostgreSQL gone while a job finishes (issue 14 High 3)", () => {
  it("the process lives on, requests get 503, and the job's final write lands once the database is back", async () => {
    const { proxy, engine, t } = await serverBehindProxy(6_000);
    try {
      const alice = await t.profile("alice");
      const posted = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "blink", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202, posted.body);
      await eventually(async () => (engine.reached ? true : undefined), 10_000, "finish reached");

      proxy.cut();
      engine.release();
      // While the database is away: a request is 503 with Retry-After, never 500.
      const down = await t.server.app.inject({ method: "GET", url: "/clusters/blink", headers: alice });
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.headers["retry-after"], "5");
      assert.doesNotMatch(down.body, /127\.0\.0\.1|ECONNREFUSED|postgres/i);
      // The job is trying its final write again and again (logged), not failing the cluster.
      await eventually(
        async () => (/did not take the job's end; trying again/.test(t.log.text) ? true : undefined),
        30_000,
        "the final write retried",
      );
      proxy.restore();
      const online = await t.clusterWhen(alice, "blink", "online");
      assert.equal(online.status, "online");
      assert.deepEqual(unhandled, [], "an unhandled rejection (Node would have exited)");
    } finally {
      await t.close();
      await proxy.stop();
    }
  });

  it("gone past the job's lease: the job is put down in its stored phase and resumed once the database is back", async () => {
    const { proxy, engine, t } = await serverBehindProxy(1_500);
    try {
      const alice = await t.profile("alice");
      const posted = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "outage", key_pair: "k" },
      });
      assert.equal(posted.statusCode, 202, posted.body);
      await eventually(async () => (engine.reached ? true : undefined), 10_000, "finish reached");
      proxy.cut();
      engine.release();
      await eventually(
        async () => (/job put down: the store is unavailable/.test(t.log.text) ? true : undefined),
        10_000,
        "the job put down at its lease's end",
      );
      assert.equal(t.server.runner.active(), 0);
      proxy.restore();
      const online = await t.clusterWhen(alice, "outage", "online");
      assert.equal(online.status, "online");
      const messages = await t.eventMessages(alice, "outage");
      assert.ok(
        messages.some((m) => /resuming the create at its finish step/.test(m)),
        messages.join(" | "),
      );
      assert.deepEqual(unhandled, [], "an unhandled rejection (Node would have exited)");
    } finally {
      await t.close();
      await proxy.stop();
    }
  });
});
