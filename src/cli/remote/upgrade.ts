import { envInt } from "../../env-numbers.js";
import { InterruptedError, OperationError } from "../../errors.js";
import type { ProgressEvent, UpgradeResult } from "../../lifecycle/types.js";
import { shellQuote } from "../../shell.js";
import type { CliContext } from "../context.js";
import type { Progress } from "../render/progress.js";
import { showUpgrade } from "../render/results.js";
import { withProgress } from "../render/run.js";
import { Aborted, type Client, sleep } from "./client.js";

/** A day-2 job as the server shows it (GET /clusters/{name}/upgrade or …/scale). */
export interface Day2Job {
  id: string;
  kind: "scale" | "upgrade";
  stack_name: string;
  region: string;
  state: "running" | "succeeded" | "failed";
  message: string | null;
  reasons: string[];
  result: unknown | null;
}

/** The arguments the CLI reads itself: never sent (the cluster is the path's, the region the query's). */
const notSent = new Set(["stack_name", "region", "json", "output", "server", "profile"]);

/**
 * `pandacluster upgrade --server`: POST /clusters/{name}/upgrade with the upgrade's arguments. A dry
 * run answers the plan at once (200); otherwise 202 and a job, whose events are printed as they come
 * until GET …/upgrade says it ended; its result is printed as the local mode prints it, with its
 * exit code. Ctrl-C stops following, not the server's upgrade.
 */
export async function upgradeRemote(
  client: Client,
  context: CliContext,
  server: string,
  options: Record<string, unknown>,
): Promise<number> {
  const name = String(options.stack_name);
  const path = `clusters/${encodeURIComponent(name)}`;
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!notSent.has(key) && value !== undefined) body[key] = value;
  }
  const started = Date.now();
  return withProgress(context, async (progress) => {
    const answer = await client.call<UpgradeResult | { region: string; job: Day2Job }>(
      "POST",
      `${path}/upgrade${query({}, options.region)}`,
      body,
    );
    if (answer.status === 200) {
      progress.stop();
      return showUpgrade(context, answer.body as UpgradeResult);
    }
    const accepted = answer.body as { region: string; job: Day2Job };
    const job = await followJob(client, context, progress, {
      name,
      region: accepted.region,
      kind: "upgrade",
      id: accepted.job.id,
      started,
      server,
    });
    progress.stop();
    return showUpgradeJob(context, job, started);
  });
}

/** The end of an upgrade job as the local mode prints an upgrade's end. */
export function showUpgradeJob(context: CliContext, job: Day2Job, started: number): number {
  const result = job.result as UpgradeResult | null;
  if (!result)
    throw new OperationError(job.message ?? `the upgrade of ${job.stack_name} ${job.state}`, job.reasons);
  return showUpgrade(context, {
    ...result,
    timings: { ...result.timings, total: (Date.now() - started) / 1000 },
  });
}

function query(extra: Record<string, string>, region: unknown): string {
  const params = new URLSearchParams(extra);
  if (typeof region === "string") params.set("region", region);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * Prints a day-2 job's events (those marked with its id) as they come until the job has ended;
 * returns the job as it ended. Ctrl-C stops following and says the server goes on.
 */
export async function followJob(
  client: Client,
  context: CliContext,
  progress: Progress,
  ref: {
    name: string;
    region: string;
    kind: "scale" | "upgrade";
    id: string;
    started: number;
    server: string;
  },
): Promise<Day2Job> {
  const path = `clusters/${encodeURIComponent(ref.name)}`;
  const interval = envInt(context.env, "PANDACLUSTER_REMOTE_POLL_MS") ?? 1000;
  let after = 0;
  try {
    for (;;) {
      const { body: job } = await client.call<Day2Job>("GET", `${path}/${ref.kind}${query({}, ref.region)}`);
      const { body: events } = await client.call<(ProgressEvent & { seq: number; job?: string })[]>(
        "GET",
        `${path}/events${query({ after: String(after) }, ref.region)}`,
      );
      for (const event of events) {
        after = Math.max(after, event.seq);
        if (event.job !== ref.id) continue;
        const { seq: _seq, job: _job, ...shown } = event;
        progress.onEvent({ ...shown, elapsed: Math.max(0, (Date.parse(event.time) - ref.started) / 1000) });
      }
      if (job.id !== ref.id || job.state !== "running") return job;
      await sleep(interval, context.signal);
    }
  } catch (error) {
    if (!(error instanceof Aborted) && !context.signal.aborted) throw error;
    const doing = ref.kind === "upgrade" ? "upgraded" : "scaled";
    const hint = (verb: string) =>
      `pandacluster ${verb} -n ${shellQuote(ref.name)} -r ${shellQuote(ref.region)} --server ${shellQuote(ref.server)}`;
    throw new InterruptedError(
      [
        `Interrupted. The cluster ${ref.name} is still being ${doing} by the server at ${ref.server}; stopping here does not stop it.`,
        `  to follow it and finish:  ${hint("wait")}`,
      ].join("\n"),
    );
  }
}
