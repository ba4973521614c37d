import { randomUUID } from "node:crypto";
import type { Config } from "../../config.js";
import type { ClusterResult, ProgressEvent } from "../../lifecycle/types.js";
import type { Engine } from "../engine.js";
import type { ClusterRecord, Store } from "../store/types.js";

/** A scale the server runs for a cluster: PATCH /clusters/{name} starts it, GET …/scale shows it. */
export interface ScaleJob {
  id: string;
  stack_name: string;
  region: string;
  workers: number;
  state: "running" | "succeeded" | "failed";
  message: string | null;
  reasons: string[];
  started_at: string;
  finished_at: string | null;
}

/**
 * Runs scales in the server process, one at a time per cluster. Every progress event is stored as
 * an event of the cluster (marked with the job's id), and so is the end ("scale to N workers
 * succeeded" or why it failed); a successful scale stores the new result on the cluster, whose
 * status stays online throughout (the cluster serves while its workers change).
 *
 * Kept in memory, not in the store: a server that stops while a scale runs leaves the update to
 * CloudFormation (it finishes there), and the reconciler names the new workers on its next cycle.
 */
export class ScaleJobs {
  readonly #jobs = new Map<number, ScaleJob>();
  readonly #stops = new Set<AbortController>();
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly log: { warn(fields: Record<string, unknown>, message: string): void },
  ) {}

  /** The cluster's latest scale, if it had one since the server started. */
  latest(clusterId: number): ScaleJob | undefined {
    return this.#jobs.get(clusterId);
  }

  isRunning(clusterId: number): boolean {
    return this.#jobs.get(clusterId)?.state === "running";
  }

  /** Starts a scale; undefined when the engine cannot scale or one already runs for the cluster. */
  start(cluster: ClusterRecord, credentials: Config, workers: number): ScaleJob | undefined {
    const scale = this.engine.scale;
    if (!scale || this.isRunning(cluster.id)) return undefined;
    const job: ScaleJob = {
      id: `scale-${randomUUID()}`,
      stack_name: cluster.stack_name,
      region: cluster.region,
      workers,
      state: "running",
      message: null,
      reasons: [],
      started_at: new Date().toISOString(),
      finished_at: null,
    };
    this.#jobs.set(cluster.id, job);
    const stop = new AbortController();
    this.#stops.add(stop);
    let chain: Promise<void> = Promise.resolve();
    const record = (event: Partial<ProgressEvent> & Record<string, unknown>) => {
      const stored = { time: new Date().toISOString(), step: "scale", ...event, job: job.id };
      chain = chain
        .then(() => this.store.addEvent(cluster.id, stored))
        .catch((error: unknown) => {
          this.log.warn(
            { error: (error as Error).message, cluster: cluster.stack_name },
            "scale event not stored",
          );
        });
    };
    record({ kind: "step", message: `scale requested: ${workers} workers` });
    const run = (async () => {
      let result: ClusterResult | undefined;
      try {
        result = await scale.call(
          this.engine,
          credentials,
          {
            stack_name: cluster.stack_name,
            region: cluster.region,
            workers,
            // By the StackId of the cluster's own create: a stack replaced outside is refused.
            ...(cluster.stack_id ? { stack_id: cluster.stack_id } : {}),
          },
          {
            onEvent: (event) => record(event as ProgressEvent & Record<string, unknown>),
            signal: stop.signal,
          },
        );
        job.state = result.status === "success" ? "succeeded" : "failed";
        job.message = result.message;
        job.reasons = result.reasons;
        if (result.status === "success") await this.store.updateCluster(cluster.id, { result, reasons: [] });
      } catch (error) {
        job.state = "failed";
        job.message = (error as Error).message;
        job.reasons = (error as { reasons?: string[] }).reasons ?? [];
      }
      job.finished_at = new Date().toISOString();
      record({
        kind: "step",
        status: job.state === "succeeded" ? "success" : "failure",
        message:
          job.state === "succeeded"
            ? `scale to ${workers} workers succeeded`
            : `scale to ${workers} workers failed: ${job.message}`,
        ...(job.reasons.length ? { reason: job.reasons.join("; ") } : {}),
      });
      await chain;
    })().finally(() => {
      this.#stops.delete(stop);
      this.#running.delete(run);
    });
    this.#running.add(run);
    return job;
  }

  /** Stops following every scale (the updates go on in AWS) and waits for them to let go. */
  async stop(): Promise<void> {
    for (const stop of this.#stops) stop.abort();
    await Promise.allSettled([...this.#running]);
  }
}
