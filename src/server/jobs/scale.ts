import { randomUUID } from "node:crypto";
import type { Config } from "../../config.js";
import { pause } from "../../lifecycle/pace.js";
import type { ClusterResult, ProgressEvent, UpgradeResult } from "../../lifecycle/types.js";
import type { UpgradeOptions } from "../../options.js";
import type { Accounts } from "../accounts.js";
import type { Engine } from "../engine.js";
import { isStoreUnavailable } from "../store/errors.js";
import {
  type ClusterRecord,
  type Day2Kind,
  type JobFence,
  LeaseLostError,
  type NewDay2Job,
  type ScaleJobRecord,
  type Store,
} from "../store/types.js";

/** A day-2 job the server runs for a cluster: a scale (PATCH /clusters/{name}, GET …/scale) or an upgrade (POST/GET …/upgrade). */
export interface ScaleJob {
  id: string;
  /** scale or upgrade: both are day-2 jobs run here, one at a time per cluster. */
  kind: Day2Kind;
  stack_name: string;
  region: string;
  /** A scale's workers (null for an upgrade). */
  workers: number | null;
  /** An upgrade's arguments as asked (image_id, min_healthy, ...); null for a scale. */
  params: Record<string, unknown> | null;
  /** An upgrade's result once it ended (the library's UpgradeResult); null before, and for a scale. */
  result: unknown | null;
  state: "running" | "succeeded" | "failed";
  message: string | null;
  reasons: string[];
  started_at: string;
  finished_at: string | null;
}

export type StartScale =
  | { kind: "started"; job: ScaleJob }
  /** A scale of the cluster runs already (on any replica). */
  | { kind: "busy"; job: ScaleJob }
  | { kind: "not_online"; status: string }
  /** The engine cannot scale. */
  | { kind: "unsupported" };

export interface ScaleJobsOptions {
  /** This server's name on leases (the job runner's owner). */
  owner: string;
  /** Lease duration, ms (renewed every third of it). */
  leaseMs: number;
  /** Opens a profile's credentials when a scale is resumed here. */
  accounts: Accounts;
}

interface Running {
  job: ScaleJobRecord;
  fence: JobFence;
  /** Until when (this machine's clock) the lease is surely this server's. */
  until: number;
  controller: AbortController;
  lost: boolean;
  done: Promise<void>;
}

/** How a day-2 job ended, as stored. */
type JobEnd = { state: "succeeded" | "failed"; message: string | null; reasons: string[] };

/** A job's events, stored in order; settle() waits until the last one is. */
interface Recorder {
  record(event: Partial<ProgressEvent> & Record<string, unknown>): void;
  settle(): Promise<void>;
}

/** Stack statuses that mean another operation runs: a resumed scale waits them out. */
const inProgress = (status: string) => status.endsWith("_IN_PROGRESS");

/**
 * Runs the day-2 jobs, scales and upgrades (POST /clusters/{name}/upgrade), in the server: one
 * table (scale_jobs, its `kind`), one runner, so that both follow the same rules. What follows is
 * said of a scale and holds for an upgrade, whose resumed run replaces only the instances not yet
 * on the stack's image (the roll is resumable by design).
 *
 * Runs scales in the server, one at a time per cluster across the fleet, stored like create and
 * delete jobs (Store startScale/claimScales/finishScale): a scale is leased to the server that runs
 * it, renewed while it runs, and taken up by any server once its lease runs out (a kill -9 mid-
 * scale: the update goes on in CloudFormation; the server that takes the scale waits for the stack
 * to settle and runs the scale again, which then finds the workers there and only checks nodes and
 * names). Every progress event is stored as an event of the cluster (marked with the job's id), and
 * so is the end; a successful scale stores the new result on the cluster, whose status stays
 * online throughout. The end is written with the scale's lease (fenced): while the store cannot
 * take it (down, disk full) it is tried again until the lease runs out, and the scale stays
 * running in the store, so that a scale AWS finished is never recorded as failed for that.
 */
export class ScaleJobs {
  readonly #running = new Map<number, Running>();
  #sweeper: NodeJS.Timeout | undefined;
  #stopping = false;
  readonly #o: ScaleJobsOptions | undefined;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly log: {
      warn(fields: Record<string, unknown>, message: string): void;
      info?(fields: Record<string, unknown>, message: string): void;
    },
    options?: ScaleJobsOptions,
  ) {
    this.#o = options;
  }

  get #owner(): string {
    return this.#o?.owner ?? "this-server";
  }

  get #leaseMs(): number {
    return this.#o?.leaseMs ?? 60_000;
  }

  /** The cluster's latest scale (or upgrade), from the store (whichever replica ran it). */
  async latest(clusterId: number, kind: Day2Kind = "scale"): Promise<ScaleJob | undefined> {
    const job = await this.store.latestScale(clusterId, kind);
    const cluster = job && (await this.store.clusterById(clusterId));
    return job && cluster ? view(job, cluster) : undefined;
  }

  /** Whether this server runs a scale of the cluster now (the reconciler leaves its names alone). */
  isRunning(clusterId: number): boolean {
    for (const running of this.#running.values()) if (running.job.cluster_id === clusterId) return true;
    return false;
  }

  /** Starts a scale: stored first (one day-2 job per cluster, fleet-wide), then run here. */
  async start(cluster: ClusterRecord, credentials: Config, workers: number): Promise<StartScale> {
    if (!this.engine.scale) return { kind: "unsupported" };
    return this.#start(cluster, credentials, { kind: "scale", workers });
  }

  /**
   * Starts an upgrade (its validated arguments but the cluster's name and region, which are the
   * cluster's): stored first, one day-2 job per cluster fleet-wide, then run here.
   */
  async startUpgrade(
    cluster: ClusterRecord,
    credentials: Config,
    params: Record<string, unknown>,
  ): Promise<StartScale> {
    if (!this.engine.upgrade) return { kind: "unsupported" };
    return this.#start(cluster, credentials, { kind: "upgrade", params });
  }

  async #start(cluster: ClusterRecord, credentials: Config, job: NewDay2Job): Promise<StartScale> {
    const asked = Date.now();
    const outcome = await this.store.startDay2(cluster.id, `${job.kind}-${randomUUID()}`, job, {
      owner: this.#owner,
      until: new Date(asked + this.#leaseMs).toISOString(),
    });
    if (outcome.kind === "not_online") return { kind: "not_online", status: outcome.cluster.status };
    if (outcome.kind === "busy") return { kind: "busy", job: view(outcome.job, cluster) };
    this.#run(outcome.job, cluster, credentials, asked, false);
    this.#sweep();
    return { kind: "started", job: view(outcome.job, cluster) };
  }

  /** Takes up scales whose server stopped, and keeps the leases of those running here. */
  resumeAll(): void {
    this.#sweep();
  }

  #sweep(): void {
    this.#sweeper ??= setInterval(() => void this.#renew(), Math.max(50, Math.floor(this.#leaseMs / 3)));
    this.#sweeper.unref();
  }

  async #renew(): Promise<void> {
    if (this.#stopping) return;
    const asked = Date.now();
    let held: ScaleJobRecord[];
    try {
      held = await this.store.claimScales(this.#owner, new Date(asked + this.#leaseMs).toISOString());
    } catch (error) {
      this.log.warn({ error: (error as Error).message }, "could not renew day-2 job leases (scale, upgrade)");
      return;
    }
    const generations = new Map(held.map((job) => [job.id, job.lease_generation]));
    for (const [id, running] of this.#running) {
      if (generations.get(id) === running.fence.generation) running.until = asked + this.#leaseMs;
      else this.#lose(running, "the lease renewal no longer returns it");
    }
    for (const job of held) {
      if (this.#running.has(job.id) || this.#stopping) continue;
      const cluster = await this.store.clusterById(job.cluster_id).catch(() => undefined);
      const profile = cluster && (await this.store.profileById(cluster.profile_id).catch(() => undefined));
      if (!cluster || !profile || !this.#o) continue;
      let credentials: Config;
      try {
        credentials = this.#o.accounts.credentialsFor(profile);
      } catch (error) {
        this.log.warn({ scale: job.key, error: (error as Error).message }, `cannot resume a ${job.kind}`);
        continue;
      }
      this.#run(job, cluster, credentials, asked, true);
    }
  }

  #lose(running: Running, why: string): void {
    if (running.lost) return;
    running.lost = true;
    const kind = running.job.kind;
    this.log.warn({ scale: running.job.key, why }, `${kind} lease lost; the ${kind} stops here`);
    running.controller.abort(new LeaseLostError(running.fence));
  }

  #run(
    job: ScaleJobRecord,
    cluster: ClusterRecord,
    credentials: Config,
    asked: number,
    resumed: boolean,
  ): void {
    const running: Running = {
      job,
      fence: { job_id: job.id, owner: this.#owner, generation: job.lease_generation },
      until: asked + this.#leaseMs,
      controller: new AbortController(),
      lost: false,
      done: Promise.resolve(),
    };
    this.#running.set(job.id, running);
    running.done = this.#follow(running, cluster, credentials, resumed)
      .catch((error: unknown) => {
        this.log.warn(
          { scale: job.key, error: (error as Error)?.message ?? String(error) },
          `${job.kind} stopped`,
        );
      })
      .finally(() => this.#running.delete(job.id));
  }

  async #follow(
    running: Running,
    cluster: ClusterRecord,
    credentials: Config,
    resumed: boolean,
  ): Promise<void> {
    const { job } = running;
    if (job.kind === "upgrade") return this.#followUpgrade(running, cluster, credentials, resumed);
    const scale = this.engine.scale;
    if (!scale) return;
    const signal = running.controller.signal;
    const { record, settle } = this.#recorder(running, cluster, "scale");
    const workers = job.workers ?? 0;
    if (resumed) {
      record({
        kind: "step",
        message: `resuming the scale to ${workers} workers (the server that ran it stopped)`,
      });
      // The update may still run in CloudFormation: wait until the stack settles.
      const settled = await this.#settled(cluster, credentials, signal);
      if (settled === "UPDATE_ROLLBACK_COMPLETE") {
        record({
          kind: "step",
          status: "failure",
          message: `scale to ${workers} workers failed: the update rolled back`,
        });
        await settle();
        await this.#finish(running, { state: "failed", message: "the update rolled back", reasons: [] });
        return;
      }
    } else record({ kind: "step", message: `scale requested: ${workers} workers` });

    await this.#runToEnd(
      running,
      { record, settle },
      () =>
        scale.call(
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
            signal,
          },
        ),
      (end) =>
        end.state === "succeeded"
          ? `scale to ${workers} workers succeeded`
          : `scale to ${workers} workers failed: ${end.message}`,
      (end, result) => [end.state === "succeeded" ? result : undefined],
    );
  }

  /**
   * An upgrade: the library's upgrade (UpdateStack with the new image, then the roll), by the
   * cluster's own StackId. Resumed after its server stopped, it waits for the stack to settle and
   * runs again: the roll replaces only the instances not yet on the stack's image, so a second run
   * goes on where the first stopped (never replacing a controller twice).
   */
  async #followUpgrade(
    running: Running,
    cluster: ClusterRecord,
    credentials: Config,
    resumed: boolean,
  ): Promise<void> {
    const upgrade = this.engine.upgrade;
    if (!upgrade) return;
    const { job } = running;
    const signal = running.controller.signal;
    const { record, settle } = this.#recorder(running, cluster, "upgrade");
    const params = job.params ?? {};
    const target = upgradeTarget(params);
    if (resumed) {
      record({ kind: "step", message: `resuming the upgrade to ${target} (the server that ran it stopped)` });
      const settled = await this.#settled(cluster, credentials, signal);
      if (settled === "UPDATE_ROLLBACK_COMPLETE") {
        record({
          kind: "step",
          status: "failure",
          message: `upgrade to ${target} failed: the stack update rolled back`,
        });
        await settle();
        await this.#finish(running, {
          state: "failed",
          message: "the stack update rolled back",
          reasons: [],
        });
        return;
      }
    } else record({ kind: "step", message: `upgrade requested: to ${target}` });
    await this.#runToEnd(
      running,
      { record, settle },
      () =>
        upgrade.call(
          this.engine,
          credentials,
          {
            ...(params as Partial<UpgradeOptions>),
            min_healthy: Number(params.min_healthy ?? 90),
            stack_name: cluster.stack_name,
            region: cluster.region,
            dry_run: false,
            // By the StackId of the cluster's own create: a stack replaced outside is refused.
            ...(cluster.stack_id ? { stack_id: cluster.stack_id } : {}),
          },
          { onEvent: (event) => record(event as ProgressEvent & Record<string, unknown>), signal },
        ),
      (end, result) =>
        end.state === "succeeded"
          ? `upgrade succeeded: ${end.message}`
          : `upgrade to ${result?.image_to ?? target} failed: ${end.message}`,
      (end, result) => [
        end.state === "succeeded" && result ? upgradedResult(cluster, result) : undefined,
        result,
      ],
    );
  }

  /** Stores each progress event as the cluster's, marked with the job; `settle` waits for them. */
  #recorder(running: Running, cluster: ClusterRecord, step: Day2Kind): Recorder {
    const { job } = running;
    let chain: Promise<void> = Promise.resolve();
    const record = (event: Partial<ProgressEvent> & Record<string, unknown>) => {
      if (running.lost) return;
      const stored = { time: new Date().toISOString(), step, ...event, job: job.key };
      chain = chain
        .then(() => this.store.addEvent(cluster.id, stored))
        .catch((error: unknown) => {
          this.log.warn(
            { error: (error as Error).message, cluster: cluster.stack_name },
            `${step} event not stored`,
          );
        });
    };
    return { record, settle: () => chain };
  }

  /**
   * Runs a day-2 job's library call and records how it ended: an event saying `said`, then the
   * stored end with what `stored` keeps of the result. A job stopped meanwhile (shutdown, lease
   * lost) records nothing: it stays running in the store for whoever resumes it.
   */
  async #runToEnd<R extends { status: string; message: string; reasons: string[] }>(
    running: Running,
    { record, settle }: Recorder,
    call: () => Promise<R>,
    said: (end: JobEnd, result: R | undefined) => string,
    stored: (end: JobEnd, result: R | undefined) => [result?: unknown, jobResult?: unknown],
  ): Promise<void> {
    let result: R | undefined;
    let end: JobEnd;
    try {
      result = await call();
      end = {
        state: result.status === "success" ? "succeeded" : "failed",
        message: result.message,
        reasons: result.reasons,
      };
    } catch (error) {
      if (this.#stopping || running.lost) return;
      end = {
        state: "failed",
        message: (error as Error).message,
        reasons: (error as { reasons?: string[] }).reasons ?? [],
      };
    }
    record({
      kind: "step",
      status: end.state === "succeeded" ? "success" : "failure",
      message: said(end, result),
      ...(end.reasons.length ? { reason: end.reasons.join("; ") } : {}),
    });
    await settle();
    await this.#finish(running, end, ...stored(end, result));
  }

  /**
   * The scale's end, fenced by its lease; tried again while the store cannot take it (down, disk
   * full) until the lease runs out. Then the scale stays running in the store and is resumed.
   */
  async #finish(running: Running, end: JobEnd, result?: unknown, jobResult?: unknown): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.store.finishScale(running.job.id, running.fence, end, result, jobResult);
        return;
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.#lose(running, "the store refused its end: another server holds it now");
          return;
        }
        if (!isStoreUnavailable(error)) throw error;
        const delay = Math.round(Math.min(5_000, 100 * 2 ** tries) * (0.5 + Math.random()));
        if (this.#stopping || running.lost || Date.now() + delay >= running.until) {
          this.log.warn(
            { scale: running.job.key, error: (error as Error).message },
            `the store did not take the ${running.job.kind}'s end; it stays running and is resumed`,
          );
          return;
        }
        this.log.warn(
          { scale: running.job.key, tries, error: (error as Error).message },
          `the store did not take the ${running.job.kind}'s end; trying again`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Waits until the cluster's stack is in no *_IN_PROGRESS state; returns its status. */
  async #settled(
    cluster: ClusterRecord,
    credentials: Config,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const deadline = Date.now() + (cluster.options.timeout ?? 30) * 60_000;
    for (let wait = 1_000; ; wait = Math.min(15_000, wait * 2)) {
      const states = await this.engine.stackStatuses(credentials, cluster.region);
      const state = [...states.values()].find((s) =>
        cluster.stack_id ? s.stack_id === cluster.stack_id : s.stack_name === cluster.stack_name,
      );
      if (!state || !inProgress(state.status) || Date.now() > deadline) return state?.status;
      await pause(wait, signal);
    }
  }

  /** Stops following every scale (the updates go on in AWS; the scales stay stored) and waits for them to let go. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const running of this.#running.values())
      running.controller.abort(new Error("the server is shutting down"));
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }
}

/**
 * What an upgrade moves to, in words: its image (the one asked for, or the channel's newest unless
 * only etcd moves) and its etcd version when one was asked for.
 */
function upgradeTarget(params: Record<string, unknown>): string {
  const etcd = typeof params.etcd_version === "string" ? params.etcd_version : undefined;
  const image =
    typeof params.image_id === "string" ? params.image_id : etcd ? undefined : "the channel's newest image";
  return [image, etcd && `etcd ${etcd}`].filter(Boolean).join(" and ");
}

/**
 * The cluster's stored result after an upgrade: its nodes are the new instances and its image the
 * new one (the rest of what create found stays true: names, zone, discovery).
 */
function upgradedResult(cluster: ClusterRecord, upgraded: UpgradeResult): unknown {
  const stored = cluster.result as ClusterResult | null;
  if (!stored?.cluster) return undefined;
  return {
    ...stored,
    cluster: { ...stored.cluster, image_id: upgraded.image_to, nodes: upgraded.nodes },
  };
}

function view(job: ScaleJobRecord, cluster: ClusterRecord): ScaleJob {
  return {
    id: job.key,
    kind: job.kind,
    stack_name: cluster.stack_name,
    region: cluster.region,
    workers: job.workers,
    params: job.params,
    result: job.result,
    state: job.state,
    message: job.message,
    reasons: job.reasons,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}
