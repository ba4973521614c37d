import { envInt } from "../../env-numbers.js";
import { InterruptedError, OperationError } from "../../errors.js";
import type { ClusterResult, ProgressEvent } from "../../lifecycle/types.js";
import { shellQuote } from "../../shell.js";
import type { CliContext } from "../context.js";
import { showCluster } from "../render/results.js";
import { withProgress } from "../render/run.js";
import { Aborted, type Client } from "./client.js";

interface ScaleJob {
  id: string;
  stack_name: string;
  region: string;
  workers: number;
  state: "running" | "succeeded" | "failed";
  message: string | null;
  reasons: string[];
}

/**
 * `pandacluster scale --server`: PATCH /clusters/{name} {"workers": N} (202 and a job), then the
 * job's events as they come (GET …/events, those marked with the job) until GET …/scale says it
 * ended; prints the cluster as the local mode does. Ctrl-C stops following, not the server's job.
 */
export async function scaleRemote(
  client: Client,
  context: CliContext,
  server: string,
  options: Record<string, unknown>,
): Promise<number> {
  const name = String(options.stack_name);
  const query = (extra: Record<string, string> = {}, region = options.region) => {
    const params = new URLSearchParams(extra);
    if (typeof region === "string") params.set("region", region);
    const text = params.toString();
    return text ? `?${text}` : "";
  };
  const path = `clusters/${encodeURIComponent(name)}`;
  const body: Record<string, unknown> = { workers: options.workers };
  if (options.cluster_size !== undefined && options.cluster_size !== null)
    body.cluster_size = options.cluster_size;
  const started = Date.now();
  return withProgress(context, async (progress) => {
    const { body: accepted } = await client.call<{ region: string; job: ScaleJob }>(
      "PATCH",
      `${path}${query()}`,
      body,
    );
    const region = accepted.region;
    const interval = envInt(context.env, "PANDACLUSTER_REMOTE_POLL_MS") ?? 1000;
    let after = 0;
    let job = accepted.job;
    try {
      for (;;) {
        const { body: state } = await client.call<ScaleJob>("GET", `${path}/scale${query({}, region)}`);
        const { body: events } = await client.call<(ProgressEvent & { seq: number; job?: string })[]>(
          "GET",
          `${path}/events${query({ after: String(after) }, region)}`,
        );
        for (const event of events) {
          after = Math.max(after, event.seq);
          if (event.job !== accepted.job.id) continue;
          const { seq: _seq, job: _job, ...shown } = event;
          progress.onEvent({ ...shown, elapsed: Math.max(0, (Date.parse(event.time) - started) / 1000) });
        }
        job = state;
        if (job.id !== accepted.job.id || job.state !== "running") break;
        await sleep(interval, context.signal);
      }
    } catch (error) {
      if (!(error instanceof Aborted) && !context.signal.aborted) throw error;
      throw new InterruptedError(
        [
          `Interrupted. The cluster ${name} is still being scaled by the server at ${server}; stopping here does not stop it.`,
          `  to see where it is:  pandacluster status -n ${shellQuote(name)} -r ${shellQuote(region)} --server ${shellQuote(server)}`,
        ].join("\n"),
      );
    }
    progress.stop();
    if (job.state !== "succeeded")
      throw new OperationError(job.message ?? `scaling ${name} failed`, job.reasons);
    const { body: cluster } = await client.call<{ result: ClusterResult | null }>(
      "GET",
      `${path}${query({}, region)}`,
    );
    if (!cluster.result) throw new OperationError(`the server has no result for ${name}`);
    return showCluster(context, {
      ...cluster.result,
      timings: { ...cluster.result.timings, total: (Date.now() - started) / 1000 },
    });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new Aborted());
      },
      { once: true },
    );
  });
}
