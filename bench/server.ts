/**
 * bench/server: the API server's read paths and its create throughput (issue 4, item 9).
 *
 *  1. With 1,000 cluster records in a SQLite store (10 profiles × 100 clusters, each with a stored
 *     3-node result), throughput and p99 latency of GET /clusters/{stack_name} and GET /clusters on
 *     loopback, against a bare Fastify route in the same run that does the same token hash and
 *     SQLite lookup and returns the stored JSON. The servers run in a child process (this one only
 *     drives autocannon), one measurement at a time, bounded in duration.
 *  2. 100 concurrent creates (50 in each of two regions) against the moto emulator: wall time until
 *     all are online, and the batched stack-status calls per poll cycle (target: <= regions in
 *     flight).
 *
 * Only 127.0.0.1. Run: npm run build && node dist/bench/server.js  (BENCH_SECONDS=5 by default)
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyPairCommand, EC2Client } from "@aws-sdk/client-ec2";
import Database from "better-sqlite3";
import Fastify from "fastify";
import type { ClusterResult } from "../src/lifecycle/types.js";
import { createServer } from "../src/server/app.js";
import { hashToken } from "../src/server/crypto.js";
import type { SqliteStore } from "../src/server/store/sqlite.js";
import { awsEnv, startDiscovery } from "../test/helpers/services.js";
import { startSerialMoto } from "../test/server/helpers.js";
import { sized, verdict } from "./measure.js";

const ADMIN = "bench-admin-token-0123456789abcdef";
const SECONDS = sized(5, 1, "BENCH_SECONDS");
/** The stored clusters of the reads: PROFILES × PER_PROFILE (1,000 at full size). */
const PROFILES = sized(10, 2);
const PER_PROFILE = sized(100, 10);
/** The concurrent creates against moto (100 at full size). */
const CREATES = sized(100, 4, "BENCH_CREATES");
/** Library steps (launch, finish, destroy) the server runs at once in the create bench (its default). */
const STEPS = Number(process.env.BENCH_STEPS) || 8;

// ------------------------------------------------------------------ target (child process)

interface TargetInfo {
  ours: string;
  bare: string;
  token: string;
  name: string;
}

function sampleResult(name: string, i: number): ClusterResult {
  const nodes = [1, 2, 3].map((n) => ({
    instance_id: `i-0${(i * 10 + n).toString(16).padStart(16, "0")}`,
    availability_zone: `us-east-1${"abc"[n - 1]}`,
    public_ip: `203.0.113.${n}`,
    private_ip: `10.0.${n}.${10 + (i % 200)}`,
    public_dns: `ec2-203-0-113-${n}.compute-1.amazonaws.com`,
    private_dns: `ip-10-0-${n}-${10 + (i % 200)}.ec2.internal`,
  }));
  return {
    status: "success",
    message: `cluster ${name} is ready`,
    cluster: {
      stack_name: name,
      stack_id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/0f1e2d3c-${i}`,
      region: "us-east-1",
      workers: 0,
      channel: "stable",
      arch: "amd64",
      instance_type: "t3.small",
      cluster_size: 3,
      image_id: "ami-0123456789abcdef0",
      discovery_url: "https://discovery.etcd.io/0123456789abcdef0123456789abcdef",
      nodes,
      dns: {
        private_zone_id: "Z0123456789ABC",
        private_zone: `${name}.cluster`,
        records: nodes.map((node, n) => ({
          name: `node-${n + 1}.${name}.cluster`,
          type: "A" as const,
          values: [node.private_ip],
        })),
        public_name: null,
      },
    },
    details: { launch: null, formation: null, nodes: null, customize: null },
    reasons: [],
    timings: { launch: 2.1, formation: 95.3, nodes: 12.4, customize: 41.0, total: 150.8 },
  };
}

async function target(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-"));
  const db = join(dir, "server.db");
  const level = process.env.BENCH_LOG_LEVEL ?? "warn";
  const server = await createServer({
    db,
    env: {
      PANDACLUSTER_ADMIN_TOKEN: ADMIN,
      PANDACLUSTER_SECRET_KEY: "22".repeat(32),
      PANDACLUSTER_LOG_LEVEL: level,
    },
    resume: false,
  });
  const store = server.store as SqliteStore;
  let token = "";
  let name = "";
  for (let p = 0; p < PROFILES; p++) {
    // Each profile holds PER_PROFILE live clusters: above the default quota, so the admin raises it.
    const answer = await server.app.inject({
      method: "POST",
      url: "/profiles",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { name: `team-${p}`, email: `team-${p}@example.com`, max_clusters: PER_PROFILE },
    });
    const profileToken = answer.json<{ token: string }>().token;
    const profile = await store.profileByTokenHash(hashToken(profileToken));
    if (!profile) throw new Error("profile not stored");
    for (let c = 0; c < PER_PROFILE; c++) {
      const stackName = `cluster-${p}-${c}`;
      const outcome = await store.createCluster(
        {
          profile_id: profile.id,
          stack_name: stackName,
          region: "us-east-1",
          account: "server",
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
    }
    if (p === Math.min(4, PROFILES - 1)) {
      token = profileToken;
      name = `cluster-${p}-${Math.min(57, PER_PROFILE - 1)}`;
    }
  }
  await server.app.listen({ host: "127.0.0.1", port: 0 });

  // The bare route: token hash + the same SQLite lookups, the stored JSON back. No auth hook, no
  // logger, no error mapping, nothing else.
  const bareDb = new Database(db, { readonly: true });
  const profileBy = bareDb.prepare("SELECT id FROM profiles WHERE token_hash = ?");
  const clusterBy = bareDb.prepare(
    "SELECT stack_name, region, status, cluster_size, result, reasons, created_at, updated_at FROM clusters WHERE profile_id = ? AND stack_name = ? ORDER BY id DESC LIMIT 1",
  );
  const listBy = bareDb.prepare(
    "SELECT stack_name, region, status, cluster_size, created_at, stack_id, channel, arch FROM clusters WHERE profile_id = ? ORDER BY id DESC",
  );
  const bare = Fastify();
  const caller = (authorization: string | undefined) => {
    const digest = createHash("sha256")
      .update((authorization ?? "").slice(7))
      .digest("hex");
    return profileBy.get(digest) as { id: number } | undefined;
  };
  bare.get<{ Params: { name: string } }>("/clusters/:name", async (request, reply) => {
    const profile = caller(request.headers.authorization);
    if (!profile) return reply.code(401).send();
    const row = clusterBy.get(profile.id, request.params.name) as Record<string, string> | undefined;
    if (!row) return reply.code(404).send();
    return reply
      .type("application/json")
      .send(
        `{"stack_name":"${row.stack_name}","status":"${row.status}","result":${row.result},"reasons":${row.reasons}}`,
      );
  });
  bare.get("/clusters", async (request, reply) => {
    const profile = caller(request.headers.authorization);
    if (!profile) return reply.code(401).send();
    return reply.send(listBy.all(profile.id));
  });
  await bare.listen({ host: "127.0.0.1", port: 0 });
  const port = (app: { server: { address(): unknown } }) => (app.server.address() as { port: number }).port;
  const info: TargetInfo = {
    ours: `http://127.0.0.1:${port(server.app)}`,
    bare: `http://127.0.0.1:${port(bare)}`,
    token,
    name,
  };
  process.send?.(info);
  process.on("disconnect", async () => {
    await bare.close();
    await server.close();
    bareDb.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

// ------------------------------------------------------------------ driver

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

async function reads(): Promise<boolean> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ["--target"], { stdio: "inherit" });
  const info = await new Promise<TargetInfo>((resolve, reject) => {
    child.once("message", (message) => resolve(message as TargetInfo));
    child.once("exit", (code) => reject(new Error(`bench target exited with ${code}`)));
  });
  try {
    // Warm up both (JIT, SQLite page cache) before measuring.
    for (const base of [info.bare, info.ours]) await measure(`${base}/clusters/${info.name}`, info.token, 1);
    const bareOne = await measure(`${info.bare}/clusters/${info.name}`, info.token);
    const oursOne = await measure(`${info.ours}/clusters/${info.name}`, info.token);
    const bareList = await measure(`${info.bare}/clusters`, info.token);
    const oursList = await measure(`${info.ours}/clusters`, info.token);
    const ratio = (a: CannonResult, b: CannonResult) => a.requests.average / b.requests.average;
    const one = ratio(oursOne, bareOne);
    const list = ratio(oursList, bareList);
    const log = process.env.BENCH_LOG_LEVEL ?? "warn";
    console.log(
      `reads: ${PROFILES * PER_PROFILE} clusters in the store, 10 connections, ${SECONDS} s each, server log level ${log}`,
    );
    console.log(`  bare   GET /clusters/{name}  ${fmt(bareOne)}`);
    console.log(`  server GET /clusters/{name}  ${fmt(oursOne)}   ratio ${one.toFixed(2)}x`);
    console.log(`  bare   GET /clusters (${PER_PROFILE})   ${fmt(bareList)}`);
    console.log(`  server GET /clusters (${PER_PROFILE})   ${fmt(oursList)}   ratio ${list.toFixed(2)}x`);
    const ok = one >= 0.5 && oursOne.latency.p99 < 10;
    console.log(`  target GET /clusters/{name} >= 0.5x bare with p99 < 10 ms: ${ok ? "met" : "NOT met"}`);
    return ok;
  } finally {
    child.disconnect();
  }
}

async function creates(steps: number, count = CREATES): Promise<boolean> {
  const [moto, discovery] = await Promise.all([startSerialMoto(), startDiscovery()]);
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-creates-"));
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(moto.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const regions = ["us-east-1", "eu-west-1"];
  const server = await createServer({
    db: join(dir, "server.db"),
    env: {
      PANDACLUSTER_ADMIN_TOKEN: ADMIN,
      PANDACLUSTER_SECRET_KEY: "33".repeat(32),
      PANDACLUSTER_LOG_LEVEL: "warn",
      PANDACLUSTER_DISCOVERY_SERVICES: discovery.url,
    },
    pollIntervalMs: 1000,
    concurrency: steps,
  });
  try {
    for (const region of regions)
      await new EC2Client({ region }).send(new CreateKeyPairCommand({ KeyName: "k" }));
    const profile = await server.app.inject({
      method: "POST",
      url: "/profiles",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { name: "bench", email: "bench@example.com", max_clusters: count },
    });
    const headers = { authorization: `Bearer ${profile.json<{ token: string }>().token}` };
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        server.app.inject({
          method: "POST",
          url: "/clusters",
          headers,
          payload: {
            stack_name: `bench-${i}`,
            key_pair: "k",
            region: regions[i % regions.length],
            discovery_service: discovery.url,
          },
        }),
      ),
    );
    const accepted = Date.now() - started;
    if (answers.some((a) => a.statusCode !== 202))
      throw new Error(`not all accepted: ${answers.map((a) => a.statusCode).join(",")}`);
    for (;;) {
      const list = (await server.app.inject({ method: "GET", url: "/clusters", headers })).json<
        { status: string }[]
      >();
      const failed = list.filter((c) => c.status === "failed").length;
      if (failed > 0) throw new Error(`${failed} creates failed`);
      if (list.filter((c) => c.status === "online").length === count) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const wall = (Date.now() - started) / 1000;
    const stats = server.poller.stats();
    console.log(
      `creates: ${count} concurrent (${regions.length} regions) on moto, poll cycle 1 s, ${steps} library steps at once`,
    );
    console.log(`  all 202 in ${accepted} ms; all online after ${wall.toFixed(1)} s`);
    console.log(
      `  stack-status calls: ${stats.calls} in ${stats.cycles} poll cycles; at most ${stats.max_calls_per_cycle} per cycle with up to ${stats.max_watched} stacks watched in ${stats.max_groups} region(s)`,
    );
    const ok = stats.max_calls_per_cycle <= regions.length;
    console.log(
      `  target stack-status calls per cycle <= regions in flight (${regions.length}): ${ok ? "met" : "NOT met"}`,
    );
    return ok;
  } finally {
    await server.close();
    await Promise.all([moto.stop(), discovery.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes("--target")) {
  await target();
} else if (process.argv.includes("--reads")) {
  process.exit(verdict(await reads()));
} else if (process.argv.includes("--creates")) {
  process.exit(verdict(await creates(STEPS)));
} else {
  const readsOk = await reads();
  // The server's default step limit, then no limit (every create's steps at once).
  const createsOk = (await creates(STEPS)) && (await creates(CREATES));
  process.exit(verdict(readsOk && createsOk));
}
