/**
 * bench/replicas: the API server on PostgreSQL (issue 9).
 *
 *  1. With 1,000 cluster records in a PostgreSQL store (10 profiles × 100 clusters, each with a
 *     stored 3-node result), throughput and p99 latency of GET /clusters/{stack_name} on loopback,
 *     against a bare Fastify route in the same run that does the same token hash and the same two
 *     lookups through the same client library (pg, a pool of the same size) and returns the stored
 *     JSON. Both run in a child process (this one only drives autocannon), one after the other.
 *  2. 40 concurrent creates (200 with --fleet; BENCH_FLEET_CREATES) spread over 2 replicas on one database, in 2
 *     regions, against the moto emulator behind a counting proxy: all online, no stack created
 *     twice, and stack-status calls (the poller's DescribeStacks batches) per region and poll
 *     cycle across the whole fleet.
 *
 * Only 127.0.0.1. Run: npm run build && node dist/bench/replicas.js  (BENCH_SECONDS=5 by default)
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { CreateKeyPairCommand, EC2Client } from "@aws-sdk/client-ec2";
import Fastify from "fastify";
import pg from "pg";
import { createServer, type Server } from "../src/server/app.js";
import { hashToken } from "../src/server/crypto.js";
import { type Engine, libraryEngine } from "../src/server/engine.js";
import { countingProxy } from "../test/helpers/counting-proxy.js";
import { awsEnv, type Postgres, startDiscovery, startPostgres } from "../test/helpers/services.js";
import { startSerialMoto } from "../test/server/helpers.js";
import { fleet, sized, verdict } from "./measure.js";

const ADMIN = "bench-admin-token-0123456789abcdef";
const SECONDS = sized(5, 1, "BENCH_SECONDS");
/** 200 with --fleet (about 4 minutes); a plain full run creates 40, a quick one 4. */
const CREATES = sized(fleet ? 200 : 40, 4, "BENCH_FLEET_CREATES");
/** The stored clusters of the reads: PROFILES × PER_PROFILE (1,000 at full size). */
const PROFILES = sized(10, 2);
const PER_PROFILE = sized(100, 10);
const POLL_MS = 1000;

// ------------------------------------------------------------------ reads (child process)

interface TargetInfo {
  ours: string;
  bare: string;
  token: string;
  name: string;
}

function sampleResult(name: string, i: number): unknown {
  const nodes = [1, 2, 3].map((n) => ({
    instance_id: `i-0${(i * 10 + n).toString(16).padStart(16, "0")}`,
    availability_zone: `us-east-1${"abc"[n - 1]}`,
    public_ip: `203.0.113.${n}`,
    private_ip: `10.0.${n}.${10 + (i % 200)}`,
  }));
  return {
    status: "success",
    message: `cluster ${name} is ready`,
    cluster: { stack_name: name, region: "us-east-1", cluster_size: 3, nodes },
    reasons: [],
  };
}

async function target(url: string): Promise<void> {
  const server = await createServer({
    db: url,
    env: {
      PANDACLUSTER_ADMIN_TOKEN: ADMIN,
      PANDACLUSTER_SECRET_KEY: "22".repeat(32),
      PANDACLUSTER_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
      HOME: "/nonexistent",
    },
    resume: false,
  });
  const store = server.store;
  let token = "";
  for (let p = 0; p < PROFILES; p++) {
    const answer = await server.app.inject({
      method: "POST",
      url: "/profiles",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { name: `team-${p}`, email: `team-${p}@example.com`, max_clusters: PER_PROFILE },
    });
    const profileToken = answer.json<{ token: string }>().token;
    const profile = await store.profileByTokenHash(hashToken(profileToken));
    if (!profile) throw new Error("profile not stored");
    await Promise.all(
      Array.from({ length: PER_PROFILE }, async (_, c) => {
        const stackName = `cluster-${p}-${c}`;
        const outcome = await store.createCluster(
          {
            profile_id: profile.id,
            stack_name: stackName,
            region: "us-east-1",
            account: "aws:123456789012",
            cluster_size: 3,
            options: { stack_name: stackName, key_pair: "k", channel: "stable", arch: "amd64" } as never,
            create_token: `pandacluster-create-bench-${p}-${c}`,
          },
          undefined,
          () => ({ status_code: 202, body: "{}", location: null }),
          { step: "launch", message: "create requested" },
        );
        if (outcome.kind !== "created") throw new Error(outcome.kind);
        await store.completeJob(outcome.job.id, outcome.cluster.id, {
          status: "online",
          stack_id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/x`,
          result: sampleResult(stackName, p * 100 + c),
        });
      }),
    );
    if (p === Math.min(4, PROFILES - 1)) token = profileToken;
  }
  await server.app.listen({ host: "127.0.0.1", port: 0 });

  // The bare route: token hash + the same two lookups through pg (a pool of the store's size),
  // the stored JSON back. No auth hook, no logger, no error mapping, nothing else.
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on("error", () => {});
  const bare = Fastify();
  bare.get<{ Params: { name: string } }>("/clusters/:name", async (request, reply) => {
    const digest = createHash("sha256")
      .update((request.headers.authorization ?? "").slice(7))
      .digest("hex");
    const profile = (await pool.query("SELECT * FROM profiles WHERE token_hash = $1", [digest])).rows[0] as
      | { id: number }
      | undefined;
    if (!profile) return reply.code(401).send();
    const row = (
      await pool.query(
        "SELECT stack_name, region, status, cluster_size, result, reasons, created_at, updated_at FROM clusters WHERE profile_id = $1 AND stack_name = $2 ORDER BY (status = 'deleted'), id DESC LIMIT 1",
        [profile.id, request.params.name],
      )
    ).rows[0] as Record<string, string> | undefined;
    if (!row) return reply.code(404).send();
    return reply
      .type("application/json")
      .send(
        `{"stack_name":"${row.stack_name}","status":"${row.status}","result":${row.result},"reasons":${row.reasons}}`,
      );
  });
  await bare.listen({ host: "127.0.0.1", port: 0 });
  const port = (app: { server: { address(): unknown } }) => (app.server.address() as { port: number }).port;
  process.send?.({
    ours: `http://127.0.0.1:${port(server.app)}`,
    bare: `http://127.0.0.1:${port(bare)}`,
    token,
    name: `cluster-${Math.min(4, PROFILES - 1)}-${Math.min(57, PER_PROFILE - 1)}`,
  } satisfies TargetInfo);
  process.on("disconnect", async () => {
    await bare.close();
    await pool.end();
    await server.close();
    process.exit(0);
  });
}

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number; average: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

async function measure(url: string, token: string, seconds = SECONDS): Promise<CannonResult> {
  const result = await autocannon({
    url,
    connections: 10,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result;
}

const fmt = (r: CannonResult) =>
  `${Math.round(r.requests.average).toString().padStart(6)} req/s  p50 ${r.latency.p50.toFixed(1).padStart(5)} ms  p99 ${r.latency.p99.toFixed(1).padStart(5)} ms`;

async function reads(postgres: Postgres): Promise<boolean> {
  const url = await postgres.createDatabase("bench_reads");
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ["--target", url], {
    stdio: "inherit",
  });
  const info = await new Promise<TargetInfo>((resolve, reject) => {
    child.once("message", (message) => resolve(message as TargetInfo));
    child.once("exit", (code) => reject(new Error(`bench target exited with ${code}`)));
  });
  try {
    for (const base of [info.bare, info.ours]) await measure(`${base}/clusters/${info.name}`, info.token, 1);
    const bare = await measure(`${info.bare}/clusters/${info.name}`, info.token);
    const ours = await measure(`${info.ours}/clusters/${info.name}`, info.token);
    const ratio = ours.requests.average / bare.requests.average;
    console.log(
      `reads on PostgreSQL: ${PROFILES * PER_PROFILE} clusters in the store, 10 connections, ${SECONDS} s each`,
    );
    console.log(`  bare   GET /clusters/{name}  ${fmt(bare)}`);
    console.log(`  server GET /clusters/{name}  ${fmt(ours)}   ratio ${ratio.toFixed(2)}x`);
    const ok = ratio >= 0.5 && ours.latency.p99 < 10;
    console.log(`  target GET /clusters/{name} >= 0.5x bare with p99 < 10 ms: ${ok ? "met" : "NOT met"}`);
    return ok;
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.disconnect();
    await exited;
  }
}

// ------------------------------------------------------------------ creates over two replicas

async function creates(postgres: Postgres): Promise<boolean> {
  const [moto, discovery] = await Promise.all([startSerialMoto(), startDiscovery()]);
  const proxy = await countingProxy(moto.endpoint);
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(proxy.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const regions = ["us-east-1", "eu-west-1"];
  const url = await postgres.createDatabase("bench_fleet");
  /** Every poller call of the fleet: its region and when. */
  const polls: { region: string; at: number }[] = [];
  const engine: Engine = {
    ...libraryEngine,
    stackStatuses: (credentials, region, profile) => {
      polls.push({ region, at: Date.now() });
      return libraryEngine.stackStatuses(credentials, region, profile);
    },
  };
  const replicas: Server[] = [];
  try {
    for (const id of ["bench-a", "bench-b"]) {
      replicas.push(
        await createServer({
          db: url,
          engine,
          env: {
            HOME: "/nonexistent",
            PANDACLUSTER_ADMIN_TOKEN: ADMIN,
            PANDACLUSTER_SECRET_KEY: "33".repeat(32),
            PANDACLUSTER_LOG_LEVEL: "warn",
            PANDACLUSTER_DISCOVERY_SERVICES: discovery.url,
            PANDACLUSTER_SERVER_ID: id,
          },
          pollIntervalMs: POLL_MS,
        }),
      );
    }
    const [a, b] = replicas as [Server, Server];
    for (const region of regions)
      await new EC2Client({ region }).send(new CreateKeyPairCommand({ KeyName: "k" }));
    const profile = await a.app.inject({
      method: "POST",
      url: "/profiles",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { name: "bench", email: "bench@example.com", max_clusters: CREATES },
    });
    const headers = { authorization: `Bearer ${profile.json<{ token: string }>().token}` };
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: CREATES }, (_, i) =>
        (i % 2 ? b : a).app.inject({
          method: "POST",
          url: "/clusters",
          headers,
          payload: {
            stack_name: `fleet-${i}`,
            key_pair: "k",
            region: regions[Math.floor(i / 2) % regions.length],
            discovery_service: discovery.url,
          },
        }),
      ),
    );
    const accepted = Date.now() - started;
    if (answers.some((answer) => answer.statusCode !== 202))
      throw new Error(`not all accepted: ${answers.map((answer) => answer.statusCode).join(",")}`);
    for (;;) {
      const list = (await b.app.inject({ method: "GET", url: "/clusters", headers })).json<
        { status: string }[]
      >();
      const failed = list.filter((c) => c.status === "failed").length;
      if (failed > 0) throw new Error(`${failed} creates failed`);
      if (list.filter((c) => c.status === "online").length === CREATES) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const wall = (Date.now() - started) / 1000;
    const created = new Map<string, number>();
    for (const request of proxy.log) {
      if (request.operation !== "cloudformation:CreateStack" || request.status !== 200) continue;
      const name = decodeURIComponent(/(?:^|&)StackName=([^&]*)/.exec(request.body)?.[1] ?? "?");
      created.set(name, (created.get(name) ?? 0) + 1);
    }
    const twice = [...created.values()].filter((n) => n > 1).length;
    // Calls of one region that come closer together than a cycle can (0.8 × the interval, the
    // least jitter) were made by two replicas in one cycle.
    let most = 0;
    for (const region of regions) {
      const at = polls.filter((p) => p.region === region).map((p) => p.at);
      for (let i = 0; i < at.length; i++) {
        const within = at.filter((t) => t >= (at[i] ?? 0) && t < (at[i] ?? 0) + POLL_MS * 0.75).length;
        most = Math.max(most, within);
      }
    }
    const [sa, sb] = [a.poller.stats(), b.poller.stats()];
    console.log(
      `creates: ${CREATES} concurrent over 2 replicas on one PostgreSQL database (${regions.length} regions) on moto, poll cycle ${POLL_MS / 1000} s`,
    );
    console.log(`  all 202 in ${accepted} ms; all online after ${wall.toFixed(1)} s`);
    console.log(
      `  CreateStack accepted: ${[...created.values()].reduce((x, y) => x + y, 0)} for ${created.size} stacks; created twice: ${twice}`,
    );
    console.log(
      `  stack-status calls: replica A ${sa.calls} in ${sa.cycles} cycles, replica B ${sb.calls} in ${sb.cycles} cycles; fleet-wide at most ${most} per region within 0.75 of a cycle`,
    );
    const ok = created.size === CREATES && twice === 0 && most <= 1;
    console.log(
      `  target all online, none created twice, stack-status calls per cycle <= regions in flight (${regions.length}) for the fleet: ${ok ? "met" : "NOT met"}`,
    );
    return ok;
  } finally {
    for (const replica of replicas) await replica.close();
    proxy.close();
    await Promise.all([moto.stop(), discovery.stop()]);
  }
}

if (process.argv.includes("--target")) {
  await target(process.argv[process.argv.indexOf("--target") + 1] ?? "");
} else {
  const postgres = await startPostgres();
  try {
    const readsOk = process.argv.includes("--creates") ? true : await reads(postgres);
    const createsOk = process.argv.includes("--reads") ? true : await creates(postgres);
    process.exitCode = verdict(readsOk && createsOk);
  } finally {
    await postgres.stop();
  }
}
