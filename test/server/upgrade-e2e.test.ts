/**
 * Issue 17, the server face, end to end: two `pandacluster serve` processes on one PostgreSQL
 * database (Debian's postgresql-15), the real library against the paced emulator (pandacluster_moto:
 * stacks take time, new instances stay pending before they serve), checked with the AWS CLI. A
 * cluster made on an old image is upgraded through replica A (POST /clusters/{name}/upgrade → 202);
 * A is killed with -9 in the middle of the roll; B takes the job over once A's lease runs out and
 * finishes it: every instance ends on the channel's newest image, and no fewer than N-1 controllers
 * are in service at any moment sampled. Also through B while it runs: a second upgrade and a DELETE
 * are 409 (one day-2 job per cluster, fleet-wide); the CLI's `upgrade --server --dry-run` prints the
 * plan and changes nothing, and `wait --server` follows the running upgrade to its end.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { runCli } from "../helpers/cli.js";
import { type AwsServices, serve as serveChild, startAwsServices } from "../helpers/harness.js";
import { membersReport, sampleInService } from "../helpers/roll-watch.js";
import { isolatedAwsProcessEnv } from "../helpers/services.js";
import { ADMIN_TOKEN, admin, eventually } from "./helpers.js";

const NEWEST_STABLE = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm
const OLDER_STABLE = "ami-fa0d1c89df5ae07f8"; // Flatcar-stable-4152.2.3-hvm
const _credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

let services: AwsServices;
const dir = mkdtempSync(join(tmpdir(), "pandacluster-upgrade-e2e-"));
const children: ChildProcess[] = [];

before(async () => {
  services = await startAwsServices({
    postgres: true,
    processEnv: false,
    moto: { paceMs: 1500, bootMs: 1500 },
  });
});
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await services?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: a test reads whichever fields of the answer it checks
type Json = any;

async function serve(db: string, id: string) {
  const env: NodeJS.ProcessEnv = {
    ...isolatedAwsProcessEnv(services.moto.endpoint),
    HOME: dir,
    PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    PANDACLUSTER_SECRET_KEY: "57".repeat(32),
    PANDACLUSTER_SERVER_ID: id,
    PANDACLUSTER_POLL_MS: "300",
    PANDACLUSTER_LEASE_MS: "2000",
    PANDACLUSTER_RECONCILE_MS: "3600000",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  return serveChild({ env, db, name: `serve ${id}`, children });
}

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown) {
  const answer = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await answer.text();
  return { status: answer.status, body: (text ? JSON.parse(text) : {}) as Json };
}

/** The cluster's running or pending instances, as the AWS CLI sees them. */
async function instances(name: string): Promise<{ InstanceId: string; ImageId: string }[]> {
  const seen = await services.aws<{
    Reservations: { Instances: { InstanceId: string; ImageId: string }[] }[];
  }>([
    "ec2",
    "describe-instances",
    "--filters",
    `Name=tag:pandacluster:cluster,Values=${name}`,
    "Name=instance-state-name,Values=running,pending",
  ]);
  return seen.Reservations.flatMap((r) => r.Instances);
}

describe("upgrade on the server: a replica killed with -9 mid-roll, another finishes it (issue 17)", () => {
  it("every instance ends on the newest image; 409 for a second upgrade and a DELETE meanwhile; dry run and wait through the CLI's --server", async (t) => {
    const db = await services.postgres.createDatabase();
    const a = await serve(db, "up-a");
    const b = await serve(db, "up-b");
    const members = membersReport(services.moto.endpoint);
    const store = new pg.Client({ connectionString: db });
    await store.connect();
    try {
      const profile = await call(`${a.url}/profiles`, "POST", admin, {
        name: "alice",
        email: "a@example.com",
      });
      assert.equal(profile.status, 201, JSON.stringify(profile.body));
      const token = profile.body.token as string;
      const alice = { authorization: `Bearer ${token}` };
      const created = await call(`${a.url}/clusters`, "POST", alice, {
        stack_name: "roll",
        key_pair: "k",
        cluster_size: 3,
        workers: 1,
        image_id: OLDER_STABLE,
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const online = await eventually(
        async () => {
          const got = await call(`${a.url}/clusters/roll`, "GET", alice);
          return ["online", "failed"].includes(got.body.status) ? got.body : undefined;
        },
        240_000,
        "roll online",
      );
      assert.equal(online.status, "online", JSON.stringify(online.reasons));
      const before = await instances("roll");
      assert.equal(before.length, 4);
      for (const instance of before) assert.equal(instance.ImageId, OLDER_STABLE);

      // The CLI's dry run through the server: the plan, nothing changed.
      const cliEnv = { PANDACLUSTER_TOKEN: token, PANDACLUSTER_REMOTE_POLL_MS: "300" };
      const dry = await runCli(["upgrade", "-n", "roll", "--dry-run", "--json", "--server", b.url], {
        env: cliEnv,
      });
      assert.equal(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout);
      assert.equal(plan.status, "planned");
      assert.equal(plan.image_to, NEWEST_STABLE);
      assert.equal(plan.plan.controllers.length, 3);
      assert.deepEqual(
        (await instances("roll")).map((i) => `${i.InstanceId} ${i.ImageId}`).sort(),
        before.map((i) => `${i.InstanceId} ${i.ImageId}`).sort(),
        "the dry run changed nothing",
      );

      // A move only the stack can judge (etcd 3.5.27 → 3.7.0 skips 3.6) is a 400 before any job.
      const skip = await call(`${a.url}/clusters/roll/upgrade`, "POST", alice, { etcd_version: "3.7.0" });
      assert.equal(skip.status, 400, JSON.stringify(skip.body));
      assert.match(JSON.stringify(skip.body), /etcd_version/);
      const noJob = await call(`${a.url}/clusters/roll/upgrade`, "GET", alice);
      assert.equal(noJob.status, 404, `no job was started: ${JSON.stringify(noJob.body)}`);

      const sampler = sampleInService(services.moto.endpoint, "roll");
      const accepted = await call(`${a.url}/clusters/roll/upgrade`, "POST", alice, {});
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      const jobKey = accepted.body.job.id as string;
      // One day-2 job per cluster across the fleet: B refuses a second upgrade and a DELETE.
      const twice = await call(`${b.url}/clusters/roll/upgrade`, "POST", alice, {});
      assert.equal(twice.status, 409, JSON.stringify(twice.body));
      const deleting = await call(`${b.url}/clusters/roll`, "DELETE", alice);
      assert.equal(deleting.status, 409, JSON.stringify(deleting.body));
      assert.match(deleting.body.messages[0], /is being upgraded/);

      // A is killed with -9 once it has started replacing the controllers.
      await eventually(
        async () => {
          const seen = await store.query(
            "SELECT event FROM events WHERE event LIKE '%replacing controller%'",
          );
          return seen.rows.length > 0 ? true : undefined;
        },
        240_000,
        "A to start replacing controllers",
      );
      const held = await store.query("SELECT lease_owner, lease_generation FROM scale_jobs WHERE key = $1", [
        jobKey,
      ]);
      assert.match(held.rows[0].lease_owner, /^up-a\//, "A ran the upgrade");
      a.child.kill("SIGKILL");

      // The CLI follows the running upgrade through B to its end.
      const waited = await runCli(["wait", "-n", "roll", "--json", "--server", b.url], {
        env: cliEnv,
        timeoutMs: 600_000,
      });
      assert.equal(waited.code, 0, waited.stderr);
      const result = JSON.parse(waited.stdout);
      assert.equal(result.status, "success", result.message);
      assert.equal(result.image_to, NEWEST_STABLE);

      const job = await call(`${b.url}/clusters/roll/upgrade`, "GET", alice);
      assert.equal(job.body.id, jobKey);
      assert.equal(job.body.state, "succeeded", JSON.stringify(job.body));
      const seconds = (Date.parse(job.body.finished_at) - Date.parse(job.body.started_at)) / 1000;
      t.diagnostic(`upgrade job (3 controllers + 1 worker, replica killed mid-roll): ${seconds} s`);
      const taken = await store.query("SELECT lease_generation FROM scale_jobs WHERE key = $1", [jobKey]);
      assert.ok(taken.rows[0].lease_generation > held.rows[0].lease_generation, "B took the lease over");
      const messages = (await call(`${b.url}/clusters/roll/events`, "GET", alice)).body.map(
        (e: Json) => e.message,
      );
      assert.ok(
        messages.some((m: string) => m.startsWith("resuming the upgrade to the channel's newest image")),
        messages.join("\n"),
      );

      const { controllers: fewest, samples } = await sampler.stop();
      assert.ok(samples > 10, `sampled ${samples} times`);
      assert.ok(fewest >= 2, `at one moment only ${fewest} controllers were in service`);
      const after = await instances("roll");
      assert.equal(after.length, 4);
      for (const instance of after) assert.equal(instance.ImageId, NEWEST_STABLE, instance.InstanceId);
      assert.ok(!after.some((i) => before.some((o) => o.InstanceId === i.InstanceId)), "all were replaced");
      const cluster = (await call(`${b.url}/clusters/roll`, "GET", alice)).body;
      assert.equal(cluster.status, "online");
      assert.equal(cluster.result.cluster.image_id, NEWEST_STABLE);
      assert.deepEqual(
        cluster.result.cluster.nodes.map((n: Json) => n.instance_id).sort(),
        after.map((i) => i.InstanceId).sort(),
      );
    } finally {
      await members.stop();
      await store.end();
    }
  });
});
