import type { Config } from "../../config.js";
import type { Engine, StackState } from "../engine.js";
import type { Fleet } from "../store/types.js";

/**
 * The stack status poller: one batch per AWS account and region. Each cycle makes ONE call per
 * region in flight (engine.stackStatuses: DescribeStacks without a stack name, paginated) and hands
 * every watched stack its state, so N stacks in flight cost a number of calls per cycle that
 * depends on the regions (and accounts), not on N.
 *
 * A cycle runs every `intervalMs` (with jitter) while anything is watched; a stack watched while
 * the poller is idle starts the cycles after `settleMs` (so that a burst of new stacks shares the
 * first call), and a stack watched while cycles run joins the next one. A region whose
 * call fails (throttling, a dropped connection) is backed off exponentially up to `maxIntervalMs`;
 * failures are never fatal to the watchers, whose own deadlines still apply.
 *
 * With a fleet (replicas on one PostgreSQL store), the batch is per account and region across the
 * fleet: a replica with stacks to watch in a region first takes or keeps that region's lease; the
 * holder polls and leaves the answer in the store, every other replica reads it from there and makes
 * no call. A dead holder's lease runs out after a few cycles and another replica takes over.
 */

export interface PollerOptions {
  intervalMs: number;
  maxIntervalMs: number;
  settleMs: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Replicas sharing the store: poll each region once for all of them (see above). */
  fleet?: { share: Fleet; owner: string };
}

/**
 * What a watcher is told after each cycle of its region: `known` false when the call failed;
 * otherwise `state` is the stack's, or undefined when the stack is no longer listed (deleted).
 * It returns true when it has seen what it waited for.
 */
export type WatchHandler = (seen: { known: boolean; state?: StackState }) => boolean;

interface Watcher {
  stackId: string;
  handler: WatchHandler;
  /**
   * The fleet answer's generation when this replica first looked for this watcher: an answer is
   * handed to it only from two generations later (the next one's call may have started before
   * the stack was watched, and must not say a new stack does not exist).
   */
  firstGeneration?: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Group {
  key: string;
  region: string;
  credentials: Config | undefined;
  watchers: Set<Watcher>;
  failures: number;
  /** Backed off until then after failures. */
  skipUntil: number;
}

export interface PollerStats {
  /** Poll cycles run. */
  cycles: number;
  /** stackStatuses (DescribeStacks batch) calls made, over all cycles. */
  calls: number;
  /** The most calls made in one cycle. */
  max_calls_per_cycle: number;
  /** The most stacks watched during one cycle. */
  max_watched: number;
  /** The most account × region groups with stacks in flight during one cycle. */
  max_groups: number;
}

const emptyStats = (): PollerStats => ({
  cycles: 0,
  calls: 0,
  max_calls_per_cycle: 0,
  max_watched: 0,
  max_groups: 0,
});

export class StackPoller {
  readonly #engine: Engine;
  readonly #options: PollerOptions;
  readonly #groups = new Map<string, Group>();
  #timer: NodeJS.Timeout | undefined;
  #dueAt = 0;
  #running = false;
  #stopped = false;
  #stats = emptyStats();

  constructor(engine: Engine, options: PollerOptions) {
    this.#engine = engine;
    this.#options = options;
  }

  /**
   * Resolves once `handler` returns true for the stack; rejects when `signal` aborts or the handler
   * throws. `account` keeps apart credentials that see different stacks (the runner passes the
   * credentials key, accounts.ts credentialsKeyOf).
   */
  watch(
    account: string,
    credentials: Config | undefined,
    region: string,
    stackId: string,
    handler: WatchHandler,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error("the poller is stopped"));
    const key = `${account} ${region}`;
    let group = this.#groups.get(key);
    if (!group) {
      group = { key, region, credentials, watchers: new Set(), failures: 0, skipUntil: 0 };
      this.#groups.set(key, group);
    }
    const target = group;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        target.watchers.delete(watcher);
        reject(signal?.reason ?? new Error("aborted"));
      };
      const watcher: Watcher = {
        stackId,
        handler,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      if (signal?.aborted) {
        reject(signal.reason ?? new Error("aborted"));
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      target.watchers.add(watcher);
      // Idle: start the cycles soon. Cycling: the next regular cycle takes this stack along.
      if (!this.#timer && !this.#running) this.#wake(this.#options.settleMs);
    });
  }

  stats(): PollerStats {
    return { ...this.#stats };
  }

  resetStats(): void {
    this.#stats = emptyStats();
  }

  /** Stacks watched right now. */
  watching(): number {
    let n = 0;
    for (const group of this.#groups.values()) n += group.watchers.size;
    return n;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Gives up this replica's fleet leases (after stop): another replica polls at once. */
  async release(): Promise<void> {
    const fleet = this.#options.fleet;
    if (fleet) await fleet.share.releasePolls(fleet.owner);
  }

  /** Runs a cycle within delayMs (sooner if one is already due sooner). */
  #wake(delayMs: number): void {
    if (this.#stopped || this.#running) return;
    const due = Date.now() + delayMs;
    if (this.#timer && this.#dueAt <= due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#dueAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A cycle that fails (the store of the fleet gone mid-cycle) is logged and the poller keeps
      // its rhythm: never an unhandled rejection, never a poller that stops for good.
      this.#cycle().catch((error: unknown) => {
        this.#options.log?.("a poll cycle failed; trying again next cycle", {
          error: error instanceof Error ? error.message : String(error),
        });
        this.#wake(this.#options.intervalMs);
      });
    }, delayMs);
  }

  async #cycle(): Promise<void> {
    if (this.#stopped) return;
    const now = Date.now();
    const active = [...this.#groups.values()].filter((g) => g.watchers.size > 0);
    const due = active.filter((g) => g.skipUntil <= now);
    if (due.length > 0) {
      this.#running = true;
      this.#stats.cycles += 1;
      this.#stats.max_groups = Math.max(this.#stats.max_groups, active.length);
      this.#stats.max_watched = Math.max(this.#stats.max_watched, this.watching());
      try {
        const called = await Promise.all(due.map((group) => this.#poll(group)));
        const calls = called.filter(Boolean).length;
        this.#stats.calls += calls;
        this.#stats.max_calls_per_cycle = Math.max(this.#stats.max_calls_per_cycle, calls);
      } finally {
        this.#running = false;
      }
    }
    for (const [key, group] of this.#groups) {
      if (group.watchers.size > 0) continue;
      this.#groups.delete(key);
      // Nothing left to watch here: another replica that still has stacks there polls at once.
      const fleet = this.#options.fleet;
      fleet?.share.releasePolls(fleet.owner, key).catch(() => {});
    }
    if (this.#groups.size === 0) return;
    const interval = this.#options.intervalMs * (0.8 + Math.random() * 0.4);
    const nextSkip = Math.min(...[...this.#groups.values()].map((g) => g.skipUntil));
    this.#wake(Math.round(Math.max(interval, nextSkip - Date.now())));
  }

  /** One group's turn in a cycle; true when it called AWS. */
  async #poll(group: Group): Promise<boolean> {
    // Only the watchers there before the call: a stack watched while the call runs may be too new
    // for its answer, and waits for the next.
    const watchers = [...group.watchers];
    const fleet = this.#options.fleet;
    const ttl = Math.max(1_000, this.#options.intervalMs * 3);
    if (fleet) {
      try {
        // No closer to the fleet's last call than a cycle can be (0.8 of the interval).
        if (!(await fleet.share.leadPoll(group.key, fleet.owner, ttl, this.#options.intervalMs * 0.8))) {
          await this.#follow(group, watchers, fleet.share);
          return false;
        }
      } catch (error) {
        this.#options.log?.("the fleet's poll lease cannot be read; skipping this cycle", {
          region: group.region,
          error: error instanceof Error ? error.message : String(error),
        });
        this.#hand(group, watchers, undefined);
        return false;
      }
    }
    let states: Map<string, StackState> | undefined;
    // The lease is kept while the call runs, however long AWS takes to answer: no other replica
    // polls the group meanwhile.
    const keep = fleet
      ? setInterval(
          () => void fleet.share.leadPoll(group.key, fleet.owner, ttl, 0).catch(() => {}),
          Math.max(100, Math.floor(ttl / 3)),
        )
      : undefined;
    keep?.unref();
    try {
      states = await this.#engine.stackStatuses(group.credentials, group.region);
      group.failures = 0;
      group.skipUntil = 0;
      if (fleet) {
        await fleet.share
          .publishPoll(group.key, fleet.owner, JSON.stringify([...states.entries()]))
          .catch((error: unknown) =>
            this.#options.log?.("could not share the stack statuses with the fleet", {
              region: group.region,
              error: error instanceof Error ? error.message : String(error),
            }),
          );
      }
    } catch (error) {
      group.failures += 1;
      const backoff = Math.min(this.#options.intervalMs * 2 ** group.failures, this.#options.maxIntervalMs);
      group.skipUntil = Date.now() + backoff * (0.8 + Math.random() * 0.4);
      this.#options.log?.("stack status poll failed; backing off", {
        region: group.region,
        failures: group.failures,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      clearInterval(keep);
    }
    this.#hand(group, watchers, states);
    return true;
  }

  /** Another replica polls this group: hand the watchers its newest answer, when new enough. */
  async #follow(group: Group, watchers: Watcher[], share: Fleet): Promise<void> {
    const latest = await share.latestPoll(group.key);
    const generation = latest?.generation ?? 0;
    const fresh: Watcher[] = [];
    for (const watcher of watchers) {
      if (watcher.firstGeneration === undefined) watcher.firstGeneration = generation;
      else if (latest && generation >= watcher.firstGeneration + 2) fresh.push(watcher);
    }
    if (!latest || fresh.length === 0) return;
    this.#hand(group, fresh, new Map(JSON.parse(latest.states) as [string, StackState][]));
  }

  /** Gives each watcher the answer (undefined: the call failed); removes those that are done. */
  #hand(group: Group, watchers: Watcher[], answer: Map<string, StackState> | undefined): void {
    for (const watcher of watchers) {
      if (!group.watchers.has(watcher)) continue;
      let done: boolean;
      try {
        done = answer
          ? watcher.handler({ known: true, state: answer.get(watcher.stackId) })
          : watcher.handler({ known: false });
      } catch (error) {
        group.watchers.delete(watcher);
        watcher.reject(error);
        continue;
      }
      if (done) {
        group.watchers.delete(watcher);
        watcher.resolve();
      }
    }
  }
}
