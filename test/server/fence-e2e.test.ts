/**
 * Issue 14 High 2, end to end: two `pandacluster serve` processes on one PostgreSQL database
 * (Debian's postgresql-15), the real library against moto (pandacluster_moto fixes) behind a
 * counting proxy, and a local etcd discovery service. The replica running a create is paused with
 * SIGSTOP past its lease; the other takes the job over, brings the cluster online and deletes it;
 * then SIGCONT. Before the fix the paused replica carried on with its stale steps and overwrote the
 * deleted cluster's record. Now its lease is fenced: it stops that job at once, writes nothing,
 * sends no further CreateStack, and keeps serving.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateKeyPairCommand, EC2Client } from "@aws-sdk/client-ec2";
import pg from "pg";
import { binPath, repoRoot } from "../helpers/cli.js";
import { type CountingProxy, countingProxy } from "../helpers/counting-proxy.js";
import {
  type Discovery,
  isolatedAwsProcessEnv,
  type Moto,
  type Postgres,
  startDiscovery,
  startPostgres,
} from "../helpers/services.js";
import { ADMIN_TOKEN, admin, eventually, startSerialMoto } from "./helpers.js";

let moto: Moto;
let discovery: Discovery;
let postgres: Postgres;
let proxy: CountingProxy;
const dir = mkdtempSync(join(tmpdir(), "pandacluster-fence-"));
const children: ChildProcess[] = [];

before(async () => {
  [moto, discovery, postgres] = await Promise.all([startSerialMoto(), startDiscovery(), startPostgres()]);
  proxy = await countingProxy(moto.endpoint);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const ec2 = new EC2Client({
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  await ec2.send(new CreateKeyPairCommand({ KeyName: "k" }));
});
after(async () => {
  for (const child of children) {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
  proxy?.close();
  await Promise.all([moto?.stop(), discovery?.stop(), postgres?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  /** What the server logged (JSON lines on standard output). */
  log: () => string;
}

function serve(db: string, id: string): Promise<Served> {
  const env: NodeJS.ProcessEnv = {
    ...isolatedAwsProcessEnv(proxy.endpoint),
    HOME: dir,
    PANDACLUSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    PANDACLUSTER_SECRET_KEY: "55".repeat(32),
    PANDACLUSTER_SERVER_ID: id,
    PANDACLUSTER_POLL_MS: "300",
    PANDACLUSTER_LEASE_MS: "2000",
    PANDACLUSTER_DISCOVERY_SERVICES: discovery.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "serve", "--port", "0", "--db", db], {
      env,
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`serve ${id} did not start: ${stderr}`)), 30_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], exited, log: () => stdout });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve ${id} exited with ${code}: ${stderr}`));
    });
  });
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

const createStacksSince = (from: number) =>
  proxy.log.slice(from).filter((r) => r.operation === "cloudformation:CreateStack").length;

describe("a replica paused past its lease (SIGSTOP) while another finishes its job (issue 14 High 2)", () => {
  it("on SIGCONT the paused replica stops that job: the deleted cluster stays deleted, no second CreateStack, and it keeps serving", async () => {
    const db = await postgres.createDatabase();
    const a = await serve(db, "fence-a");
    const b = await serve(db, "fence-b");
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      const profile = await call(`${a.url}/profiles`, "POST", admin, {
        name: "alice",
        email: "a@example.com",
      });
      assert.equal(profile.status, 201);
      const alice = { authorization: `Bearer ${profile.body.token as string}` };

      const posted = await call(`${a.url}/clusters`, "POST", alice, {
        stack_name: "paused",
        key_pair: "k",
        discovery_service: discovery.url,
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      // Paused as soon as its job runs (the library's first event is stored): A holds the
      // create's lease, mid-way through the checks before CreateStack.
      await eventually(
        async () => {
          const seen = await client.query("SELECT event FROM events");
          return seen.rows.some(
            (r: { event: string }) => /"step":"launch"/.test(r.event) && /checking/.test(r.event),
          )
            ? true
            : undefined;
        },
        30_000,
        "A's job to start",
      );
      a.child.kill("SIGSTOP");
      const held = await client.query(
        "SELECT id, phase, lease_generation FROM jobs WHERE lease_owner LIKE 'fence-a/%' AND phase <> 'done'",
      );
      assert.equal(held.rows.length, 1, "A had no job in flight when paused: nothing was tested");
      const jobId = held.rows[0].id as number;

      // B takes the job over once A's lease has run out, and brings the cluster online.
      await eventually(
        async () => {
          const got = await call(`${b.url}/clusters/paused`, "GET", alice);
          return got.body.status === "online" || got.body.status === "failed" ? got : undefined;
        },
        120_000,
        "B to finish the create",
      ).then((got) => assert.equal(got.body.status, "online", JSON.stringify(got.body.reasons)));
      const taken = await client.query("SELECT lease_owner, lease_generation FROM jobs WHERE id = $1", [
        jobId,
      ]);
      assert.match(taken.rows[0].lease_owner, /^fence-b\//);
      assert.ok(taken.rows[0].lease_generation > held.rows[0].lease_generation, "the lease generation grew");

      // B deletes it.
      assert.equal((await call(`${b.url}/clusters/paused`, "DELETE", alice)).status, 202);
      await eventually(
        async () =>
          (await call(`${b.url}/clusters/paused`, "GET", alice)).body.status === "deleted" ? true : undefined,
        120_000,
        "B to delete the cluster",
      );
      const before = await client.query(
        "SELECT status, stack_id, result, reasons, updated_at FROM clusters WHERE stack_name = 'paused'",
      );
      const events = (await client.query("SELECT count(*)::int AS n FROM events")).rows[0].n as number;
      const sent = proxy.log.length;

      // A wakes up, far past its lease.
      a.child.kill("SIGCONT");
      await eventually(
        async () => (/job lease lost; the job stops here/.test(a.log()) ? true : undefined),
        30_000,
        `A to notice that its lease is gone; A logged:\n${a.log().slice(-3000)}`,
      );
      await eventually(
        async () => (/job stopped: another server holds its lease now/.test(a.log()) ? true : undefined),
        30_000,
        "A to put the job down",
      );
      // A serves (its sweep and poller have run again since SIGCONT: lease 2 s, renewals every ~0.7 s).
      assert.equal((await call(`${a.url}/healthz`, "GET", {})).status, 200);
      const afterwards = await client.query(
        "SELECT status, stack_id, result, reasons, updated_at FROM clusters WHERE stack_name = 'paused'",
      );
      assert.deepEqual(afterwards.rows, before.rows, "the stale replica changed the cluster's record");
      assert.equal(afterwards.rows[0].status, "deleted");
      assert.equal(
        (await client.query("SELECT count(*)::int AS n FROM events")).rows[0].n,
        events,
        "the stale replica stored events",
      );
      assert.equal(createStacksSince(sent), 0, "the stale replica sent CreateStack again");
      const job = await client.query("SELECT phase, lease_owner FROM jobs WHERE id = $1", [jobId]);
      assert.equal(job.rows[0].phase, "done");
      assert.match(job.rows[0].lease_owner, /^fence-b\//);
      // A is alive and answers.
      assert.equal((await call(`${a.url}/clusters/paused`, "GET", alice)).body.status, "deleted");
      for (const server of [a, b]) {
        server.child.kill("SIGTERM");
        assert.equal(await server.exited, 0);
      }
    } finally {
      await client.end();
      a.child.kill("SIGCONT");
      a.child.kill("SIGKILL");
      b.child.kill("SIGKILL");
    }
  });
});
