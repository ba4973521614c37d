/**
 * Two `pandacluster serve` processes on one PostgreSQL database (Debian's postgresql-15), with the
 * real library against the moto emulator (pandacluster_moto fixes) behind a counting proxy, and a
 * local etcd discovery service: migrations raced by replicas starting together, a profile made on
 * one used on the other, 20 creates sent alternately to both while one is killed with SIGKILL,
 * and the survivor finishing every job with exactly one CreateStack per cluster.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { postgresMigrations } from "../../src/server/store/postgres-migrations.js";
import { type CountingProxy, countingProxy } from "../helpers/counting-proxy.js";
import { type AwsServices, type Served, serve as serveChild, startAwsServices } from "../helpers/harness.js";
import { type Discovery, isolatedAwsProcessEnv, type Postgres } from "../helpers/services.js";
import { ADMIN_TOKEN, admin, eventually } from "./helpers.js";

let services: AwsServices;
let discovery: Discovery;
let postgres: Postgres;
let proxy: CountingProxy;
const dir = mkdtempSync(join(tmpdir(), "pandacluster-replicas-"));
const children: ChildProcess[] = [];

before(async () => {
  // The replicas are child processes with an environment of their own: this process's is left alone.
  services = await startAwsServices({ postgres: true, processEnv: false });
  ({ discovery, postgres } = services);
  proxy = await countingProxy(services.moto.endpoint);
});
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  proxy?.close();
  await services?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A replica: `pandacluster serve` on the PostgreSQL database `db`, AWS through the counting proxy. */
async function serve(db: string, id: string): Promise<Served> {
  const env: NodeJS.ProcessEnv = {
    ...isolatedAwsProcessEnv(proxy.endpoint),
    HOME: dir,
    PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    PANDACLUSTER_SECRET_KEY: "33".repeat(32),
    PANDACLUSTER_SERVER_ID: id,
    PANDACLUSTER_POLL_MS: "300",
    PANDACLUSTER_LEASE_MS: "3000",
    PANDACLUSTER_DISCOVERY_SERVICES: discovery.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const served = await serveChild({ env, db, name: `serve ${id}`, children });
  assert.match(served.stderr(), /store PostgreSQL postgres:\/\//);
  return served;
}

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown) {
  const answer = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await answer.text();
  return { status: answer.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * Stack names of the CreateStack requests that went through the proxy: those sent (a request still
 * unanswered counts), or only those CloudFormation accepted.
 */
function createStackNames(which: "sent" | "accepted" = "sent"): string[] {
  return proxy.log
    .filter((r) => r.operation === "cloudformation:CreateStack")
    .filter((r) => which === "sent" || r.status === 200)
    .map((r) => decodeURIComponent(/(?:^|&)StackName=([^&]*)/.exec(r.body)?.[1] ?? "?"));
}

describe("two `pandacluster serve` replicas on one PostgreSQL database (moto + local etcd discovery)", () => {
  it("start together (migrations once), share profiles, and the survivor of a kill -9 finishes every create with one CreateStack each", async () => {
    const db = await postgres.createDatabase();
    // Started at the same moment: both migrate the empty database.
    const [a, b] = await Promise.all([serve(db, "replica-a"), serve(db, "replica-b")]);
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      const versions = (
        await client.query("SELECT version FROM schema_migrations ORDER BY version")
      ).rows.map((r: { version: number }) => r.version);
      assert.deepEqual(
        versions,
        postgresMigrations.map((m) => m.version),
      );

      // A profile made on A is usable on B at once.
      const profile = await call(`${a.url}/profiles`, "POST", admin, {
        name: "alice",
        email: "alice@example.com",
        max_clusters: 50,
      });
      assert.equal(profile.status, 201);
      const alice = { authorization: `Bearer ${profile.body.token as string}` };
      assert.equal((await call(`${b.url}/clusters`, "GET", alice)).status, 200);

      const names = Array.from({ length: 20 }, (_, i) => `rep-${i}`);
      const answers = await Promise.all(
        names.map((name, i) =>
          call(`${(i % 2 ? b : a).url}/clusters`, "POST", alice, {
            stack_name: name,
            key_pair: "k",
            discovery_service: discovery.url,
          }),
        ),
      );
      assert.deepEqual(
        answers.map((r) => r.status),
        names.map(() => 202),
      );

      // Kill A in the middle: some stacks created, and A still holds unfinished jobs.
      await eventually(
        async () => (createStackNames().length >= 4 ? true : undefined),
        120_000,
        "the first CreateStack calls",
      );
      a.child.kill("SIGKILL");
      await a.exited;
      const held = await client.query(
        "SELECT count(*)::int AS n FROM jobs WHERE lease_owner LIKE 'replica-a/%' AND phase <> 'done'",
      );
      assert.ok(held.rows[0].n > 0, "A had no job in flight when it was killed: nothing was tested");
      const createdBeforeTheKill = createStackNames().length;
      assert.ok(createdBeforeTheKill < names.length, "every stack was created before the kill");

      // B takes A's jobs over once their leases run out, and brings every cluster online.
      const statuses = await eventually(
        async () => {
          const list = await call(`${b.url}/clusters`, "GET", alice);
          const clusters = list.body as unknown as { stack_name: string; status: string }[];
          const settled = clusters.filter((c) => c.status === "online" || c.status === "failed");
          return settled.length === names.length ? clusters : undefined;
        },
        240_000,
        "all 20 clusters online or failed",
      );
      const failed = statuses.filter((c) => c.status !== "online");
      if (failed.length > 0) {
        const reasons = await call(`${b.url}/clusters/${failed[0]?.stack_name}`, "GET", alice);
        assert.fail(`${failed.length} not online: ${JSON.stringify(reasons.body.reasons)}`);
      }
      const counts = new Map<string, number>();
      for (const name of createStackNames("accepted")) counts.set(name, (counts.get(name) ?? 0) + 1);
      assert.deepEqual(
        [...counts.entries()].filter(([, n]) => n !== 1),
        [],
        "a stack was created twice",
      );
      assert.deepEqual([...counts.keys()].sort(), [...names].sort());
      // A CreateStack that B sent while A's was still on its way is refused (AlreadyExists), and B
      // adopts A's stack; it would show here as a second request for that name.
      const sent = createStackNames("sent");
      const refused = sent.length - names.length;
      if (refused > 0) process.stdout.write(`# ${refused} CreateStack request(s) refused as AlreadyExists\n`);
      const takenOver = await client.query(
        `SELECT count(*)::int AS n FROM events e JOIN clusters c ON c.id = e.cluster_id
         WHERE e.event::jsonb->>'message' LIKE 'resuming the create%'`,
      );
      assert.ok(takenOver.rows[0].n > 0, "B resumed none of A's jobs");
      b.child.kill("SIGTERM");
      assert.equal(await b.exited, 0);
    } finally {
      await client.end();
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
    }
  });

  it("quotas hold across replicas: of 6 creates sent at once to both, exactly max_clusters (3) are accepted and the others refused before any AWS call; a delete on one frees a place on the other; a quota raised on one counts on the other", async () => {
    // A database of its own and stack names of its own: independent of the other test.
    const db = await postgres.createDatabase();
    const [a, b] = await Promise.all([serve(db, "quota-a"), serve(db, "quota-b")]);
    const body = (stack_name: string) => ({ stack_name, key_pair: "k", discovery_service: discovery.url });
    const quotaStacks = () => createStackNames("sent").filter((name) => name.startsWith("quota-"));
    try {
      const profile = await call(`${a.url}/profiles`, "POST", admin, {
        name: "carol",
        email: "carol@example.com",
        max_clusters: 3,
      });
      assert.equal(profile.status, 201);
      const carol = { authorization: `Bearer ${profile.body.token as string}` };

      const names = Array.from({ length: 6 }, (_, i) => `quota-${i}`);
      const answers = await Promise.all(
        names.map((name, i) => call(`${(i % 2 ? b : a).url}/clusters`, "POST", carol, body(name))),
      );
      const statuses = answers.map((r) => r.status);
      const accepted = names.filter((_, i) => statuses[i] === 202);
      assert.equal(accepted.length, 3, `answers: ${statuses.join(", ")}`);
      assert.equal(statuses.filter((status) => status === 403).length, 3, `answers: ${statuses.join(", ")}`);
      for (const refused of answers.filter((r) => r.status === 403)) {
        assert.equal(refused.body.error, "quota exceeded");
        assert.match(
          String((refused.body.messages as string[])[0]),
          /at most 3 live clusters \(quota max_clusters\) and has 3/,
        );
      }
      const online = async (name: string, on: Served) =>
        eventually(
          async () => {
            const got = await call(`${on.url}/clusters/${name}`, "GET", carol);
            const status = String(got.body.status);
            return status === "online" || status === "failed" ? status : undefined;
          },
          120_000,
          `${name} online (read on ${on === a ? "quota-a" : "quota-b"})`,
        );
      for (const name of accepted) assert.equal(await online(name, b), "online", name);
      assert.deepEqual(quotaStacks().sort(), [...accepted].sort(), "a refused create reached AWS");

      // Full, whichever replica is asked.
      for (const on of [a, b]) {
        const over = await call(`${on.url}/clusters`, "POST", carol, body("quota-over"));
        assert.equal(over.status, 403, JSON.stringify(over.body));
      }

      // A delete through B frees a place that A sees once the cluster is deleted.
      const first = accepted[0] as string;
      assert.equal((await call(`${b.url}/clusters/${first}`, "DELETE", carol)).status, 202);
      await eventually(
        async () =>
          (await call(`${a.url}/clusters/${first}`, "GET", carol)).body.status === "deleted"
            ? true
            : undefined,
        120_000,
        `${first} deleted (read on quota-a)`,
      );
      const afterDelete = await call(`${a.url}/clusters`, "POST", carol, body("quota-after-delete"));
      assert.equal(afterDelete.status, 202, JSON.stringify(afterDelete.body));

      // The admin raises the quota on B; A counts with it at once, and only up to it.
      const raised = await call(`${b.url}/profiles/carol`, "PATCH", admin, { max_clusters: 4 });
      assert.equal(raised.status, 200, JSON.stringify(raised.body));
      const afterRaise = await call(`${a.url}/clusters`, "POST", carol, body("quota-raised"));
      assert.equal(afterRaise.status, 202, JSON.stringify(afterRaise.body));
      const overAgain = await call(`${b.url}/clusters`, "POST", carol, body("quota-over"));
      assert.equal(overAgain.status, 403, JSON.stringify(overAgain.body));
      assert.match(String((overAgain.body.messages as string[])[0]), /at most 4 live clusters/);
      for (const name of ["quota-after-delete", "quota-raised"])
        assert.equal(await online(name, a), "online");
      assert.ok(!quotaStacks().includes("quota-over"), "a refused create reached AWS");
    } finally {
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
    }
  });
});
