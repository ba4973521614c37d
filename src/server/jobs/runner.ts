import { setMaxListeners } from "node:events";
import { isTransientFailure } from "../../aws/errors.js";
import type { Config } from "../../config.js";
import { OperationError } from "../../errors.js";
import { pause } from "../../lifecycle/pace.js";
import type { ClusterResult, Hooks, ProgressEvent, Step } from "../../lifecycle/types.js";
import type { Accounts } from "../accounts.js";
import type { Engine, StackState } from "../engine.js";
import { isStoreUnavailable, StoreDownError } from "../store/errors.js";
import {
  type ClusterPatch,
  type ClusterRecord,
  type JobFence,
  type JobPhase,
  type JobRecord,
  LeaseLostError,
  type ProfileRecord,
  type Store,
} from "../store/types.js";
import type { StackPoller } from "./poller.js";

/**
 * Runs the persisted create and destroy jobs in the server process.
 *
 *   create:  launch    engine.launch (checks, image, discovery URL, CreateStack) → stack id stored
 *            formation the region's poller watches the stack until it leaves CREATE_IN_PROGRESS
 *            finish    engine.finish (follow to CREATE_COMPLETE, nodes, DNS, result) → online | failed
 *   destroy: delete    engine.destroy with no_wait (DNS records, DeleteStack)
 *            deletion  the region's poller watches the stack until it is gone → deleted | failed
 *
 * Each phase is stored before it starts, so a server that stops — gracefully or by kill -9 — resumes
 * every job from its phase on the next start. A launch interrupted before its stack id was stored
 * first looks for its own stack (CreateStack may have gone through): one of that name tagged with the
 * cluster's create token, never merely one of that name. A cluster acts only on the stack whose id
 * its own CreateStack returned: a failed create of a name that exists owns nothing, and deleting it
 * touches nothing in AWS. Progress events are stored in order as they come.
 *
 * Fencing: a job runs under the lease it was claimed with (owner and generation). Every store write
 * it makes (phase, completion, events, the cluster record) carries that fence and fails once the
 * lease is no longer this server's; and the job stops at once when this server learns it lost the
 * lease (a renewal that no longer returns it) or when its lease has run out with no renewal (a
 * process paused past its lease, a store that did not answer): the job's signal then reads aborted
 * at the library's next check, before any further AWS call. A store that is down is waited for
 * until the lease ends; then the job is put down in its stored phase and resumed later.
 */

export interface RunnerOptions {
  store: Store;
  engine: Engine;
  accounts: Accounts;
  poller: StackPoller;
  /** Most library steps (launch, finish, destroy) running at once, over all jobs. */
  concurrency: number;
  /**
   * This server process's name on job leases: unique per start (app.ts leaseOwner), never shared
   * with another process. A restarted server takes its old jobs back once their leases run out.
   */
  owner: string;
  /** How long a lease lasts without renewal (default 60 s); renewed every third of it. */
  leaseMs?: number;
  /** First pause before retrying a step that AWS did not answer (default 2 s; doubles, jittered). */
  retryMs?: number;
  log: {
    info(fields: Record<string, unknown>, message: string): void;
    warn(fields: Record<string, unknown>, message: string): void;
    error(fields: Record<string, unknown>, message: string): void;
  };
}

const terminalForCreate = (status: string) =>
  status !== "CREATE_IN_PROGRESS" && status !== "REVIEW_IN_PROGRESS";

class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

/** Stores a cluster's events one after the other, in the order they came, fenced by the job's lease. */
class EventSink {
  #chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly store: Store,
    private readonly clusterId: number,
    private readonly fence: JobFence,
    private readonly onError: (error: unknown) => void,
  ) {}
  push(event: ProgressEvent | Record<string, unknown>): void {
    const stored: Record<string, unknown> = { ...event };
    stored.time ??= new Date().toISOString();
    this.#chain = this.#chain
      .then(() => this.store.addEvent(this.clusterId, stored, this.fence))
      .catch(this.onError);
  }
  note(step: Step, message: string, extra: Record<string, unknown> = {}): void {
    this.push({ step, message, ...extra });
  }
  flush(): Promise<void> {
    return this.#chain;
  }
}

/** A lease this runner holds for a running job. */
interface Held {
  fence: JobFence;
  /** Until when (this machine's clock) the lease is surely this server's: the last claim or renewal that started before it was confirmed, plus leaseMs. */
  until: number;
  /** When the claim that started the job was confirmed: a renewal sent before then cannot speak for it. */
  confirmedAt: number;
  /** Aborted when the lease is lost (and when the server stops): the job's signal. */
  controller: AbortController;
  lost: boolean;
  done: boolean;
}

interface JobContext {
  job: JobRecord;
  held: Held;
  /** The job's own signal: aborted when the server stops or the job's lease is lost. */
  signal: AbortSignal;
  cluster: ClusterRecord;
  profile: ProfileRecord;
  credentials: Config;
  /** Which credentials (accounts.ts): the poller batches the stacks of one key and region. */
  credentialsKey: string;
  events: EventSink;
  hooks: Hooks;
  /** True when this job was found unfinished at start-up. */
  resumed: boolean;
}

export class JobRunner {
  readonly #o: RunnerOptions;
  readonly #slots: Slots;
  readonly #controller = new AbortController();
  readonly #running = new Map<number, Promise<void>>();
  readonly #leaseMs: number;
  readonly #retryMs: number;
  /** Create jobs whose launch failed once in this process (to word the adoption event). */
  readonly #retried = new Set<number>();
  #sweeper: NodeJS.Timeout | undefined;
  #stopping = false;
  /** Leases of the jobs running here. */
  readonly #held = new Map<number, Held>();

  constructor(options: RunnerOptions) {
    this.#o = options;
    this.#slots = new Slots(options.concurrency);
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#retryMs = options.retryMs ?? 2_000;
    // Every job in flight listens to this one signal.
    setMaxListeners(0, this.#controller.signal);
  }

  /**
   * Runs a library step in a slot, unless the runner is stopping (then the job stays where it is)
   * or the job's lease is gone (then another server has the job).
   */
  #step<T>(c: JobContext, work: () => Promise<T>): Promise<T> {
    return this.#slots.run(async () => {
      if (this.#stopping) throw new Error("the server is shutting down");
      if (c.signal.aborted) throw c.signal.reason;
      return work();
    });
  }

  /** The job's lease is no longer (surely) this server's: its signal aborts, it writes nothing more. */
  #lose(jobId: number, why: string): void {
    const held = this.#held.get(jobId);
    if (!held || held.lost || held.done) return;
    held.lost = true;
    this.#o.log.warn(
      { job: jobId, generation: held.fence.generation, why },
      "job lease lost; the job stops here",
    );
    held.controller.abort(new LeaseLostError(held.fence));
  }

  /**
   * A job's store write: made with its fence; while the store does not answer, tried again until
   * the job's lease runs out (StoreDownError then: the job is put down in its stored phase, and
   * taken up again once the store is back). A lost lease ends it at once (LeaseLostError).
   */
  async #write<T>(c: JobContext, what: string, write: (fence: JobFence) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await write(c.held.fence);
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.#lose(c.job.id, `the store refused ${what}: another server holds the job now`);
          throw error;
        }
        if (!isStoreUnavailable(error)) throw error;
        if (Date.now() >= c.held.until) {
          this.#lose(c.job.id, `its lease ran out while the store did not take ${what}`);
          throw new LeaseLostError(c.held.fence);
        }
        const delay = Math.round(Math.min(5_000, 100 * 2 ** tries) * (0.5 + Math.random()));
        if (this.#stopping || c.held.lost || Date.now() + delay >= c.held.until)
          throw new StoreDownError(what, error);
        this.#o.log.warn(
          { job: c.job.id, tries, error: (error as Error).message },
          `the store did not take ${what}; trying again`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  #setPhase(c: JobContext, phase: JobPhase): Promise<JobRecord> {
    return this.#write(c, `the ${phase} phase`, (fence) => this.#o.store.setJobPhase(c.job.id, phase, fence));
  }

  async #complete(c: JobContext, patch: ClusterPatch): Promise<void> {
    await this.#write(c, "the job's end", (fence) =>
      this.#o.store.completeJob(c.job.id, c.cluster.id, patch, fence),
    );
    c.held.done = true;
  }

  #until(): string {
    return new Date(Date.now() + this.#leaseMs).toISOString();
  }

  /** A lease for a job this server is about to store and start (Store.createCluster, startDestroy). */
  lease(): { owner: string; until: string } {
    return { owner: this.#o.owner, until: this.#until() };
  }

  /**
   * Resumes every unfinished job this server may take (its own, and those whose lease ran out),
   * then keeps renewing its leases and taking over jobs that another server sharing the store left
   * behind. Returns how many jobs it resumed now.
   */
  async resumeAll(): Promise<number> {
    const asked = Date.now();
    const jobs = await this.#o.store.claimJobs(this.#o.owner, this.#until());
    for (const job of jobs) this.#launch(job, true, asked);
    if (jobs.length > 0)
      this.#o.log.info({ jobs: jobs.length, owner: this.#o.owner }, "resuming unfinished jobs");
    this.#sweeper ??= setInterval(() => void this.#sweep(), Math.max(50, Math.floor(this.#leaseMs / 3)));
    this.#sweeper.unref();
    return jobs.length;
  }

  async #sweep(): Promise<void> {
    if (this.#stopping) return;
    try {
      const asked = Date.now();
      const held = new Map(
        (await this.#o.store.renewLeases(this.#o.owner, this.#until())).map((h) => [
          h.id,
          h.lease_generation,
        ]),
      );
      // A running job whose lease the renewal no longer returns under its generation was taken by
      // another server (this one was paused or cut off past the lease): it stops before anything
      // else of it runs. Only claims confirmed before this renewal was sent are judged by it.
      for (const [id, lease] of this.#held) {
        if (lease.confirmedAt > asked) continue;
        if (held.get(id) === lease.fence.generation)
          lease.until = Math.max(lease.until, asked + this.#leaseMs);
        else this.#lose(id, "the lease renewal no longer returns it");
      }
      const claimed = Date.now();
      for (const job of await this.#o.store.claimJobs(this.#o.owner, this.#until())) {
        if (!this.#running.has(job.id)) this.#launch(job, true, claimed);
      }
    } catch (error) {
      this.#o.log.error({ error: (error as Error).message }, "could not renew job leases");
    }
  }

  /** Starts a new job (once: a job already running is left alone). */
  start(job: JobRecord): void {
    if (this.#stopping || this.#running.has(job.id)) return;
    this.#launch(job, false, Date.now());
  }

  /** `asked`: when the claim that gave `job` (resumed) was sent; a new job is claimed here. */
  #launch(job: JobRecord, resumed: boolean, asked: number): void {
    const run = (async () => {
      let claimed = job;
      let sent = asked;
      if (!resumed) {
        sent = Date.now();
        const taken = await this.#o.store.claimJobs(this.#o.owner, this.#until(), job.id);
        if (!taken[0]) return;
        claimed = taken[0];
      }
      await this.#run(claimed, resumed, sent);
    })()
      // Last resort: whatever a job throws is logged here; it never becomes an unhandled rejection
      // (which would end the process, and every other job and request with it).
      .catch((error: unknown) => {
        this.#o.log.error(
          { job: job.id, error: (error as Error)?.message ?? String(error) },
          "job stopped by an unexpected error; it stays in its stored phase",
        );
      })
      .finally(() => {
        this.#running.delete(job.id);
        this.#retried.delete(job.id);
        this.#held.delete(job.id);
      });
    this.#running.set(job.id, run);
  }

  /** Jobs running now. */
  active(): number {
    return this.#running.size;
  }

  /** Resolves when no job runs (tests, bench). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * Stops waiting: in-flight library calls are aborted (their work in AWS goes on) and every job
   * stays in its stored phase, to be resumed by the next start. Waits up to graceMs for the jobs to
   * put themselves down.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#stopping = true;
    this.#controller.abort(new Error("the server is shutting down"));
    this.#o.poller.stop();
    await this.#o.poller.release().catch(() => {});
    const settled = Promise.allSettled([...this.#running.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    if (timer) clearTimeout(timer);
    // Another server sharing the store may take the jobs over at once (this one, restarted, too).
    await this.#o.store.releaseLeases(this.#o.owner).catch(() => {});
  }

  /**
   * The job's signal: aborted when the server stops or the lease is lost, and — checked each time
   * the library asks whether it is aborted (before each AWS call it makes) — as soon as the lease
   * has run out on this machine's clock with no renewal. A process paused past its lease thus
   * learns it on its very next check, before a renewal round trip could tell it.
   */
  #jobSignal(job: JobRecord, held: Held): AbortSignal {
    const signal = held.controller.signal;
    setMaxListeners(0, signal);
    const own = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted")?.get;
    Object.defineProperty(signal, "aborted", {
      configurable: true,
      get: () => {
        if (!held.lost && !held.done && Date.now() >= held.until)
          this.#lose(job.id, "its lease ran out with no renewal (the server was paused or cut off)");
        return own ? (own.call(signal) as boolean) : held.lost;
      },
    });
    return signal;
  }

  async #run(job: JobRecord, resumed: boolean, asked: number): Promise<void> {
    const { log } = this.#o;
    const held: Held = {
      fence: { job_id: job.id, owner: this.#o.owner, generation: job.lease_generation ?? 0 },
      until: asked + this.#leaseMs,
      confirmedAt: Date.now(),
      controller: new AbortController(),
      lost: false,
      done: false,
    };
    this.#held.set(job.id, held);
    const stopAll = () => held.controller.abort(this.#controller.signal.reason);
    if (this.#controller.signal.aborted) stopAll();
    else this.#controller.signal.addEventListener("abort", stopAll, { once: true });
    const signal = this.#jobSignal(job, held);
    try {
      await this.#runHeld(job, resumed, held, signal);
    } catch (error) {
      if (held.lost || error instanceof LeaseLostError) {
        log.warn({ job: job.id }, "job stopped: another server holds its lease now");
      } else if (error instanceof StoreDownError || isStoreUnavailable(error)) {
        // Nothing more can be written; the lease runs out and the job resumes from its stored phase.
        log.error(
          { job: job.id, error: (error as Error).message },
          "job put down: the store is unavailable; it resumes from its stored phase once the store is back",
        );
      } else throw error;
    } finally {
      this.#controller.signal.removeEventListener("abort", stopAll);
    }
  }

  async #runHeld(job: JobRecord, resumed: boolean, held: Held, signal: AbortSignal): Promise<void> {
    const { store, accounts, log } = this.#o;
    const cluster = await store.clusterById(job.cluster_id);
    const profile = cluster && (await store.profileById(cluster.profile_id));
    const bare = { job, held, signal } as JobContext;
    if (!cluster || !profile) {
      log.error({ job: job.id }, "job without its cluster or profile; marking it done");
      await this.#write(bare, "the job's end", (fence) =>
        store.completeJob(job.id, job.cluster_id, {}, fence),
      );
      return;
    }
    const fields = { job: job.id, kind: job.kind, stack_name: cluster.stack_name, region: cluster.region };
    const events = new EventSink(store, cluster.id, held.fence, (error) => {
      if (error instanceof LeaseLostError) this.#lose(job.id, "the store refused an event of the job");
      else log.error({ ...fields, error: (error as Error).message }, "could not store an event");
    });
    let credentials: Config;
    try {
      credentials = accounts.credentialsFor(profile);
    } catch (error) {
      events.note(
        job.kind === "create" ? "launch" : "destroy",
        "the profile's AWS credentials cannot be opened",
      );
      await events.flush();
      await this.#complete(
        { ...bare, cluster },
        {
          status: "failed",
          reasons: [
            `the profile's AWS credentials cannot be opened (${(error as Error).message}); was the secret key changed?`,
          ],
        },
      );
      return;
    }
    const context: JobContext = {
      job,
      held,
      signal,
      cluster,
      profile,
      credentials,
      credentialsKey: accounts.credentialsKeyOf(profile),
      events,
      hooks: { onEvent: (event) => events.push(event), signal },
      resumed,
    };
    if (resumed)
      events.note(
        job.phase === "launch" ? "launch" : job.kind === "create" ? "formation" : "destroy",
        `resuming the ${job.kind} at its ${job.phase} step (the server that ran it stopped or restarted)`,
      );
    log.info({ ...fields, phase: job.phase, resumed }, "job running");
    try {
      if (job.kind === "create") await this.#create(context);
      else await this.#destroy(context);
      log.info(fields, "job done");
    } catch (error) {
      if (held.lost || error instanceof LeaseLostError || error instanceof StoreDownError) throw error;
      if (this.#stopping) {
        log.info({ ...fields }, "job paused for shutdown; it resumes on the next start");
        await events.flush();
        return;
      }
      const reasons = reasonsOf(error);
      log.warn({ ...fields, reasons }, "job failed");
      events.note(
        job.kind === "create" ? "launch" : "destroy",
        `${job.kind} failed: ${reasons[0] ?? "unknown error"}`,
        { final: true },
      );
      await events.flush();
      if (held.lost) throw new LeaseLostError(held.fence);
      await this.#complete(context, { status: "failed", reasons });
    }
  }

  async #create(c: JobContext): Promise<void> {
    const { store, engine } = this.#o;
    const { cluster } = c;
    const options = {
      ...cluster.options,
      region: cluster.region,
      dry_run: false,
      ...(cluster.create_token ? { client_token: cluster.create_token } : {}),
    };
    let job = c.job;
    let stackId = cluster.stack_id;
    const deadline = Date.parse(job.created_at) + options.timeout * 60_000;

    if (job.phase === "launch") {
      // After a restart, or after an attempt that failed, CreateStack may have gone through: AWS
      // is asked first (our own stack, by its token), and only then is the stack launched.
      let askFirst = c.resumed;
      const launchedId = stackId
        ? stackId
        : await this.#retrying(c, "launch", deadline, async () => {
            if (askFirst) {
              const found = await this.#findOwnStack(c);
              if (found) {
                c.events.note(
                  "launch",
                  c.resumed && !this.#retried.has(c.job.id)
                    ? "found the stack that was being created before the restart; following it"
                    : "CreateStack went through although its answer was lost; following the stack",
                  { status: found.status },
                );
                return found.stack_id;
              }
            }
            askFirst = true;
            try {
              return (await this.#step(c, () => engine.launch(c.credentials, options, c.hooks))).stack_id;
            } catch (error) {
              // "Already exists" after a lost answer may be our own request's retry: only a stack
              // with our token is ours. AWS not answering that question is itself transient.
              this.#retried.add(c.job.id);
              let found: StackState | undefined;
              try {
                found = this.#stopping ? undefined : await this.#findOwnStack(c);
              } catch (lookup) {
                if (isTransientFailure(lookup)) throw lookup;
              }
              if (!found) throw error;
              c.events.note(
                "launch",
                "CreateStack went through although its answer was lost; following the stack",
                {
                  status: found.status,
                },
              );
              return found.stack_id;
            }
          });
      stackId = launchedId;
      const launched = stackId;
      await this.#write(c, "the stack id", (fence) =>
        store.updateCluster(cluster.id, { stack_id: launched }, fence),
      );
      job = await this.#setPhase(c, "formation");
    }
    if (!stackId) throw new OperationError("the create job lost its stack id");

    if (job.phase === "formation") {
      await this.#watchStack(c, stackId, {
        step: "formation",
        deadline,
        late: `the stack did not finish creating within ${options.timeout} minutes; it may still be running in AWS (DELETE the cluster to remove it)`,
        // A stack gone from the live list was deleted (OnFailure DELETE): that ends the wait too.
        done: (state) => !state || terminalForCreate(state.status),
      });
      job = await this.#setPhase(c, "finish");
    }

    if (job.phase === "finish") {
      const ref = { stack_name: cluster.stack_name, region: cluster.region, stack_id: stackId };
      // finish reads everything back from the stack (by its id): an attempt cut short by AWS not
      // answering is simply made again, until the create's own deadline.
      const result: ClusterResult = await this.#retrying(c, "customize", deadline, () => {
        const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 60_000));
        return this.#step(c, () =>
          engine.finish(c.credentials, ref, {
            ...c.hooks,
            timeout_minutes: remaining,
            throw_transient: true,
          }),
        );
      });
      const online = result.status === "success";
      c.events.note("customize", online ? "cluster is online" : `create failed: ${result.message}`, {
        final: true,
      });
      await c.events.flush();
      await this.#complete(c, {
        status: online ? "online" : "failed",
        result,
        reasons: result.reasons ?? [],
      });
    }
  }

  async #destroy(c: JobContext): Promise<void> {
    const { engine } = this.#o;
    const { cluster } = c;
    let job = c.job;
    let destroyError: unknown;
    const timeout = cluster.options.timeout ?? 30;

    const stackId = cluster.stack_id;
    if (!stackId) {
      // Its create never made a stack (refused, or the name was someone else's): nothing in AWS is
      // this cluster's, so nothing there is touched, not even what has its name.
      c.events.note("destroy", "cluster deleted (its create made no stack, so nothing in AWS was touched)", {
        final: true,
      });
      await c.events.flush();
      await this.#complete(c, { status: "deleted" });
      return;
    }

    if (job.phase === "delete") {
      try {
        // DNS clean-up and DeleteStack by id are safe to repeat: AWS not answering is waited out.
        const deadline = Date.parse(job.created_at) + timeout * 60_000;
        await this.#retrying(c, "destroy", deadline, () =>
          this.#step(c, () =>
            engine.destroy(
              c.credentials,
              {
                stack_name: cluster.stack_name,
                stack_id: stackId,
                region: cluster.region,
                no_wait: true,
                timeout,
              },
              c.hooks,
            ),
          ),
        );
      } catch (error) {
        if (this.#stopping || c.held.lost) throw error;
        destroyError = error;
      }
      job = await this.#setPhase(c, "deletion");
    }

    let outcome: { deleted: true } | { deleted: false; reasons: string[] } = { deleted: true };
    await this.#watchStack(c, stackId, {
      step: "destroy",
      deadline: Date.parse(job.created_at) + timeout * 60_000,
      late: `the stack was not deleted within ${timeout} minutes; it may still be deleting in AWS`,
      done: (state) => {
        if (!state || state.status === "DELETE_COMPLETE") return true;
        if (state.status === "DELETE_FAILED") {
          outcome = { deleted: false, reasons: [state.reason ?? "DeleteStack failed (DELETE_FAILED)"] };
          return true;
        }
        if (destroyError && state.status !== "DELETE_IN_PROGRESS") {
          outcome = { deleted: false, reasons: reasonsOf(destroyError) };
          return true;
        }
        return false;
      },
    });
    const final = outcome as { deleted: true } | { deleted: false; reasons: string[] };
    if (final.deleted) {
      c.events.note("destroy", "cluster deleted", { final: true });
      await c.events.flush();
      await this.#complete(c, { status: "deleted" });
    } else {
      c.events.note("destroy", `delete failed: ${final.reasons[0]}`, { final: true });
      await c.events.flush();
      await this.#complete(c, { status: "failed", reasons: final.reasons });
    }
  }

  /**
   * Waits on the region's poller until `done` says the stack got where the job waits for it (a
   * stack no longer listed comes as undefined). Each new stack status becomes an event of `step`;
   * past the deadline the wait ends with `late`.
   */
  async #watchStack(
    c: JobContext,
    stackId: string,
    wait: {
      step: Step;
      deadline: number;
      late: string;
      done: (state: StackState | undefined) => boolean;
    },
  ): Promise<void> {
    let last: string | undefined;
    await this.#o.poller.watch(
      c.credentialsKey,
      c.credentials,
      c.cluster.region,
      stackId,
      (seen) => {
        if (Date.now() > wait.deadline) throw new OperationError(wait.late);
        if (!seen.known) return false;
        const state = seen.state;
        if (state && state.status !== last) {
          last = state.status;
          c.events.note(wait.step, `stack ${state.status}`, {
            status: state.status,
            ...(state.reason ? { reason: state.reason } : {}),
          });
        }
        return wait.done(state);
      },
      c.signal,
    );
  }

  /**
   * The stack this cluster's own CreateStack made, when its id was not stored (a crash, a lost
   * answer): of the cluster's name AND tagged with its create token. A cluster stored without a
   * token (before schema v4) finds none: a stack merely of that name may be anyone's.
   */
  /**
   * Runs `attempt` until it succeeds, fails for a reason that is not transient, the runner stops,
   * or the next try would start past `deadline`. Transient: AWS not answering (refused or reset
   * connections, timeouts), throttling, 5xx — isTransientFailure. Pauses grow from retryMs
   * (doubling, at most 30 s) with jitter; each is an event, so a watcher sees why nothing moves.
   */
  async #retrying<T>(c: JobContext, step: Step, deadline: number, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (this.#stopping || c.signal.aborted || !isTransientFailure(error)) throw error;
        const base = Math.min(30_000, this.#retryMs * 2 ** Math.min(tries - 1, 10));
        const delay = Math.round(base * (0.5 + Math.random()));
        if (Date.now() + delay > deadline) throw error;
        const why = (error as Error).message?.split("\n")[0] ?? String(error);
        c.events.note(step, `AWS did not answer (${why}); trying again in ${Math.ceil(delay / 1000)} s`);
        this.#o.log.warn({ job: c.job.id, step, tries, error: why }, "transient AWS failure; retrying");
        await pause(delay, c.signal);
      }
    }
  }

  async #findOwnStack(c: JobContext): Promise<StackState | undefined> {
    const token = c.cluster.create_token;
    if (!token) return undefined;
    const states = await this.#o.engine.stackStatuses(c.credentials, c.cluster.region);
    for (const state of states.values()) {
      if (
        state.stack_name === c.cluster.stack_name &&
        state.create_token === token &&
        state.status !== "DELETE_COMPLETE"
      )
        return state;
    }
    return undefined;
  }
}

export function reasonsOf(error: unknown): string[] {
  if (error instanceof OperationError) return [error.message, ...error.reasons];
  if (error instanceof Error) {
    const reasons = (error as { reasons?: unknown }).reasons;
    return [error.message, ...(Array.isArray(reasons) ? reasons.map(String) : [])];
  }
  return [String(error)];
}
