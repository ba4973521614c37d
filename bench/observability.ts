/**
 * bench/observability: what the audit log and the Prometheus metrics (issue 19) cost on the hot
 * read path. Two servers on one SQLite store of 100 clusters with stored results, in a child
 * process: one as shipped (audit log to the store and to an --audit-log file, metrics with the HTTP
 * histogram), one with both off (ServerOptions.observability: false). GET /clusters/{stack_name}
 * throughput of each on loopback with autocannon, measured in turns (on, off, on, off, …) so that
 * a slow moment of the machine hits both, medians compared: on / off (goal >= 0.95x).
 * Also CPU time per request of the servers' process (steadier on a shared machine: the goal is
 * judged on requests per CPU second, and both ratios are printed).
 * BENCH_AA=1 runs both sides with audit and metrics off: the ratio the noise alone gives.
 *
 * Run: npm run bench -- observability  (BENCH_SECONDS=2, BENCH_ROUNDS=10 by default; --quick: 1 s, 2 rounds)
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "../src/server/app.js";
import { hashToken } from "../src/server/crypto.js";
import { median, sized, verdict } from "./measure.js";

const ADMIN = "bench-admin-token-0123456789abcdef";
const SECONDS = sized(2, 1, "BENCH_SECONDS");
const ROUNDS = sized(10, 2, "BENCH_ROUNDS");
const GOAL = 0.95;

interface TargetInfo {
  on: string;
  off: string;
  token: string;
  name: string;
}

async function target(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-bench-obs-"));
  const db = join(dir, "server.db");
  const env = {
    PANDACLUSTER_ADMIN_TOKEN: ADMIN,
    PANDACLUSTER_SECRET_KEY: "33".repeat(32),
    PANDACLUSTER_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  };
  const on = await createServer({
    db,
    env,
    resume: false,
    auditLog: join(dir, "audit.jsonl"),
    ...(process.env.BENCH_AA ? { observability: false } : {}),
  });
  const off = await createServer({ db, env, resume: false, observability: false });
  const answer = await on.app.inject({
    method: "POST",
    url: "/profiles",
    headers: { authorization: `Bearer ${ADMIN}` },
    payload: { name: "team", email: "team@example.com", max_clusters: 1000 },
  });
  const token = answer.json<{ token: string }>().token;
  const profile = await on.store.profileByTokenHash(hashToken(token));
  if (!profile) throw new Error("profile not stored");
  for (let c = 0; c < 100; c++) {
    const stackName = `cluster-${c}`;
    const outcome = await on.store.createCluster(
      {
        profile_id: profile.id,
        stack_name: stackName,
        region: "us-east-1",
        account: "aws:123456789012",
        cluster_size: 3,
        options: { stack_name: stackName, key_pair: "k", channel: "stable", arch: "amd64" } as never,
        create_token: `pandacluster-create-bench-${c}`,
      },
      undefined,
      () => ({ status_code: 202, body: "{}", location: null }),
      { step: "launch", message: "create requested" },
    );
    if (outcome.kind !== "created") throw new Error(outcome.kind);
    const nodes = [1, 2, 3].map((n) => ({
      instance_id: `i-0${(c * 10 + n).toString(16).padStart(16, "0")}`,
      private_ip: `10.0.${n}.${10 + c}`,
      public_ip: `203.0.113.${n}`,
    }));
    await on.store.completeJob(outcome.job.id, outcome.cluster.id, {
      status: "online",
      stack_id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/x`,
      result: {
        status: "success",
        message: `cluster ${stackName} is ready`,
        cluster: { stack_name: stackName, nodes },
      },
    });
  }
  const listen = async (server: Server) => {
    await server.app.listen({ host: "127.0.0.1", port: 0 });
    return `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`;
  };
  const info: TargetInfo = { on: await listen(on), off: await listen(off), token, name: "cluster-57" };
  process.send?.(info);
  // The driver asks for the server process's CPU time around each turn.
  process.on("message", (message) => {
    if (message === "cpu") {
      const used = process.cpuUsage();
      process.send?.({ cpu: used.user + used.system });
    }
  });
  process.on("disconnect", async () => {
    await off.close();
    await on.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

async function measure(url: string, token: string, seconds: number): Promise<CannonResult> {
  const result = await autocannon({
    url,
    connections: 10,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return result;
}

async function driver(): Promise<boolean> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ["--target"], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  const info = await new Promise<TargetInfo>((resolve, reject) => {
    child.once("message", (message) => resolve(message as TargetInfo));
    child.once("exit", (code) => reject(new Error(`bench target exited with ${code}`)));
  });
  try {
    const path = `/clusters/${info.name}`;
    for (const base of [info.on, info.off]) await measure(`${base}${path}`, info.token, 1);
    const runs: Record<"on" | "off", CannonResult[]> = { on: [], off: [] };
    /** CPU microseconds the servers' process spent per request, by turn. */
    const cpu: Record<"on" | "off", number[]> = { on: [], off: [] };
    const cpuNow = () =>
      new Promise<number>((resolve) => {
        child.once("message", (message) => resolve((message as { cpu: number }).cpu));
        child.send("cpu");
      });
    // Short turns, the order swapped every round, medians: the machine is shared, and a burst of
    // someone else's work then lands on both sides alike.
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const);
      for (const which of order) {
        const before = await cpuNow();
        const result = await measure(`${info[which]}${path}`, info.token, SECONDS);
        cpu[which].push(((await cpuNow()) - before) / result.requests.total);
        runs[which].push(result);
      }
    }
    const rate = (which: "on" | "off") => median(runs[which].map((r) => r.requests.average));
    const p99 = (which: "on" | "off") => median(runs[which].map((r) => r.latency.p99));
    const ratio = rate("on") / rate("off");
    const perRequest = (which: "on" | "off") => median(cpu[which]);
    // Throughput per CPU second: what a core of its own would serve. On a shared machine this is
    // the steadier figure (someone else's burst stretches wall time, not this process's CPU time).
    const cpuRatio = perRequest("off") / perRequest("on");
    console.log(
      `GET /clusters/{name}: 100 clusters, 10 connections, ${ROUNDS} rounds of ${SECONDS} s each, in turns`,
    );
    console.log(
      `  audit + metrics off  ${Math.round(rate("off")).toString().padStart(6)} req/s  p99 ${p99("off").toFixed(1)} ms  ${perRequest("off").toFixed(1)} µs CPU/request`,
    );
    console.log(
      `  audit + metrics on   ${Math.round(rate("on")).toString().padStart(6)} req/s  p99 ${p99("on").toFixed(1)} ms  ${perRequest("on").toFixed(1)} µs CPU/request`,
    );
    const met = cpuRatio >= GOAL;
    console.log(`  ratio on/off, requests per second     ${ratio.toFixed(3)}x`);
    console.log(
      `  ratio on/off, requests per CPU second ${cpuRatio.toFixed(3)}x  (goal >= ${GOAL}x: ${met ? "met" : "MISSED"})`,
    );
    return met;
  } finally {
    child.disconnect();
  }
}

if (process.argv.includes("--target")) await target();
else process.exit(verdict(await driver()));
