/**
 * bench/ui: the first load of the dashboard on loopback, with 100 clusters in the profile's list.
 *
 * Each round opens /ui in a fresh browser context (empty cache, the token already in
 * sessionStorage, as after signing in) and measures, in the page: the time from navigation start
 * until the cluster table shows its 100 rows (a MutationObserver notes the moment), and the bytes
 * transferred (the navigation's and every resource's transferSize: headers plus compressed
 * bodies, the GET /clusters answer included). The baseline, in the same run and the same browser:
 * one GET /clusters (fetch + JSON parse) from the page. Medians of interleaved rounds.
 *
 * The server runs in a child process; this one drives the browser. Only 127.0.0.1. Run: npm run build && node dist/bench/ui.js  (BENCH_ROUNDS=9 by default)
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { ClusterResult } from "../src/lifecycle/types.js";
import { createServer } from "../src/server/app.js";
import { hashToken } from "../src/server/crypto.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/helpers/browser.js";
import { median, ratioLine, sized, verdict } from "./measure.js";

const ADMIN = "bench-admin-token-0123456789abcdef";
const ROUNDS = sized(9, 1, "BENCH_ROUNDS");
const CLUSTERS = 100;
const BUDGET = 150 * 1024;

function result(name: string, i: number): ClusterResult {
  const nodes = [1, 2, 3].map((n) => ({
    instance_id: `i-0${(i * 10 + n).toString(16).padStart(16, "0")}`,
    availability_zone: `us-east-1${"abc"[n - 1]}`,
    public_ip: `203.0.113.${n}`,
    private_ip: `10.0.${n}.${10 + i}`,
    public_dns: null,
    private_dns: null,
  }));
  return {
    status: "success",
    message: `cluster ${name} is ready`,
    cluster: {
      stack_name: name,
      stack_id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/x`,
      region: "us-east-1",
      channel: "stable",
      arch: "amd64",
      instance_type: "t3.small",
      cluster_size: 3,
      workers: 0,
      image_id: "ami-0123456789abcdef0",
      discovery_url: null,
      nodes,
      dns: null,
    },
    details: { launch: null, formation: null, nodes: null, customize: null },
    reasons: [],
    timings: { total: 150 },
  };
}

/** The server with 100 clusters, in its own process (this one drives the browser). */
async function target(): Promise<void> {
  const server = await createServer({
    db: ":memory:",
    env: { PANDACLUSTER_ADMIN_TOKEN: ADMIN, PANDACLUSTER_LOG_LEVEL: "warn" },
    resume: false,
  });
  const created = await server.app.inject({
    method: "POST",
    url: "/profiles",
    headers: { authorization: `Bearer ${ADMIN}` },
    payload: { name: "bench", email: "bench@example.com", max_clusters: CLUSTERS },
  });
  const token = created.json<{ token: string }>().token;
  const profile = await server.store.profileByTokenHash(hashToken(token));
  if (!profile) throw new Error("profile not stored");
  for (let i = 0; i < CLUSTERS; i++) {
    const stackName = `cluster-${i}`;
    const outcome = await server.store.createCluster(
      {
        profile_id: profile.id,
        stack_name: stackName,
        region: "us-east-1",
        account: "server",
        cluster_size: 3,
        options: { stack_name: stackName, key_pair: "k" } as never,
        create_token: `pandacluster-create-bench-ui-${i}`,
      },
      undefined,
      () => ({ status_code: 202, body: "{}", location: null }),
      { time: new Date().toISOString(), step: "launch", message: "create requested" },
    );
    if (outcome.kind !== "created") throw new Error(outcome.kind);
    await server.store.completeJob(outcome.job.id, outcome.cluster.id, {
      status: "online",
      stack_id: `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/x`,
      result: result(stackName, i),
    });
  }
  await server.app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`;
  process.send?.({ base, token });
  process.on("disconnect", async () => {
    await server.close();
    process.exit(0);
  });
}

/** One first load, in ms since navigation start, and its bytes. */
interface Load {
  ms: number;
  bytes: number;
  files: number;
  /** The page's HTML received. */
  html: number;
  /** GET /clusters asked (the modules fetched and run) and answered. */
  listAsked: number;
  listArrived: number;
}

async function drive(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["--target"], { stdio: "inherit" });
  const { base, token } = await new Promise<{ base: string; token: string }>((resolve, reject) => {
    child.once("message", (info) => resolve(info as { base: string; token: string }));
    child.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    /** One cold first load: ms until 100 rows are shown, bytes transferred. */
    async function firstLoad(): Promise<Load> {
      const context = await browser.newContext();
      try {
        await context.addInitScript(
          ([value, rows]) => {
            if (location.pathname !== "/ui") return;
            sessionStorage.setItem("pandacluster.token", value);
            sessionStorage.setItem("pandacluster.kind", "profile");
            const seen = new MutationObserver(() => {
              if (document.querySelectorAll("table.clusters tbody tr").length >= rows) {
                (window as unknown as { shownAt: number }).shownAt = performance.now();
                seen.disconnect();
              }
            });
            seen.observe(document, { childList: true, subtree: true });
          },
          [token, CLUSTERS] as [string, number],
        );
        const page = await context.newPage();
        await page.goto(`${base}/ui`);
        await page.waitForFunction(() => (window as unknown as { shownAt?: number }).shownAt !== undefined);
        return await page.evaluate(() => {
          const entries = [
            ...performance.getEntriesByType("navigation"),
            ...performance.getEntriesByType("resource"),
          ] as PerformanceResourceTiming[];
          const list = entries.find((e) => new URL(e.name).pathname === "/clusters");
          return {
            ms: (window as unknown as { shownAt: number }).shownAt,
            bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
            files: entries.length,
            html: entries[0]?.responseEnd ?? 0,
            listAsked: list?.startTime ?? 0,
            listArrived: list?.responseEnd ?? 0,
          };
        });
      } finally {
        await context.close();
      }
    }

    /** One GET /clusters from a page of the same origin, parsed, as the dashboard does it. */
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/ui/icon.svg`);
    const listOnce = () =>
      page.evaluate(async (value) => {
        const start = performance.now();
        const answer = await fetch("/clusters", {
          headers: { authorization: `Bearer ${value}`, accept: "application/json" },
          cache: "no-store",
        });
        const list = (await answer.json()) as unknown[];
        if (list.length === 0) throw new Error("no clusters");
        return performance.now() - start;
      }, token);

    const loads: Load[] = [];
    const lists: number[] = [];
    for (let round = 0; round < ROUNDS + 1; round++) {
      const load = await firstLoad();
      const list = await listOnce();
      if (round === 0) continue; // warm-up: the server's and the browser's first time
      loads.push(load);
      lists.push(list);
    }
    await context.close();

    const loadMs = median(loads.map((l) => l.ms));
    const listMs = median(lists);
    const bytes = Math.max(...loads.map((l) => l.bytes));
    console.log(
      `first load of /ui with ${CLUSTERS} clusters, fresh browser context each round (${ROUNDS} rounds)`,
    );
    console.log(ratioLine("GET /clusters from the page (baseline)", listMs, listMs));
    console.log(ratioLine("navigation start → 100 rows shown", loadMs, listMs));
    const at = (key: keyof Load) => median(loads.map((l) => l[key])).toFixed(0);
    console.log(
      `  where the time goes (medians, ms since navigation start): HTML in ${at("html")}, GET /clusters asked ${at("listAsked")} and answered ${at("listArrived")}, rows shown ${at("ms")}`,
    );
    console.log(
      `  transferred: ${(bytes / 1024).toFixed(1)} kB in ${loads[0]?.files ?? 0} responses (headers + compressed bodies, GET /clusters included); budget ${BUDGET / 1024} kB: ${bytes <= BUDGET ? "met" : "MISSED"}`,
    );
    process.exitCode = verdict(bytes <= BUDGET);
  } finally {
    await browser.close();
    child.disconnect();
  }
}

if (process.argv.includes("--target")) await target();
else await drive();
