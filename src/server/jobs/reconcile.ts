import type { GroupState } from "../../aws/groups.js";
import type { Config } from "../../config.js";
import type { ImageAdvice } from "../../lifecycle/image_age.js";
import type { ClusterResult } from "../../lifecycle/types.js";
import type { Accounts } from "../accounts.js";
import type { Engine } from "../engine.js";
import type { ClusterRecord, ImageWarning, Store } from "../store/types.js";
import type { ScaleJobs } from "./scale.js";

/** What one cycle did, for logs, tests and the bench. */
export interface ReconcileCycle {
  /** AWS calls the bulk reads made: DescribeAutoScalingGroups pages, over all regions and accounts. */
  group_calls: number;
  /** Region and account pairs read (one paginated DescribeAutoScalingGroups each). */
  scopes: number;
  clusters: number;
  /** Clusters whose instances in service changed since the last cycle (or were seen for the first time). */
  synced: number;
  /** Records changed, over all clusters. */
  changes: number;
  failures: number;
  /** Image warnings recorded as new events this cycle (each warning once, fleet-wide). */
  image_warnings: number;
}

/**
 * Keeps the DNS names of the clusters this server owns in line with their Auto Scaling groups, on
 * its own, every PANDACLUSTER_RECONCILE_MS (default 60 s).
 *
 * Cost: ONE paginated DescribeAutoScalingGroups per region and AWS account per cycle (tag-key
 * filter pandacluster:cluster), whatever the number of clusters: it gives every group's InService
 * instances. Which groups are a cluster's is read once per cluster from its own stack (by the StackId
 * its create returned: ListStackResources), never from the groups' tags. Only a cluster whose set of instances in service changed since the last cycle (or that
 * the server sees for the first time) costs more: its stack, its instances' addresses and its zone
 * are read and the names fixed (as `pandacluster sync`). Each change is recorded as an event of
 * that cluster. A cluster being scaled or upgraded is left to its job.
 *
 * Every PANDACLUSTER_IMAGE_CHECK_MS (default six hours) it also asks how current each cluster's
 * image is (one DescribeImages by id per region and account, one newest-image lookup per channel
 * and arch) and records an outdated, deprecated or gone image as an event of the cluster, with the
 * date and the command to run: once per warning (the store adds the event only when the warning's
 * key, the image and what is wrong with it, differs from the one it holds), whichever replica sees it.
 */
export class Reconciler {
  readonly #seen = new Map<number, string>();
  /** The groups each cluster's own stack owns, or "foreign" when its stack was deleted or replaced. */
  readonly #groups = new Map<number, { controllers: string[]; workers: string[] } | "foreign">();
  #timer: NodeJS.Timeout | undefined;
  #cycle: Promise<ReconcileCycle> | undefined;
  #stopped = false;
  /** When this server last looked at the clusters' images (0: never, so the first cycle does). */
  #imagesChecked = 0;
  /** Told each cycle's duration in seconds (the server's metrics). */
  cycleObserver: ((seconds: number) => void) | undefined;

  constructor(
    private readonly parts: { store: Store; engine: Engine; accounts: Accounts; scales: ScaleJobs },
    private readonly intervalMs: number,
    private readonly log: {
      info(fields: Record<string, unknown>, message: string): void;
      warn(fields: Record<string, unknown>, message: string): void;
    },
    private readonly imageCheckMs = 6 * 3_600_000,
  ) {}

  start(): void {
    if (!this.parts.engine.clusterGroups || !this.parts.engine.syncInService || !this.parts.engine.identify)
      return;
    const tick = () => {
      this.#timer = setTimeout(async () => {
        await this.runOnce().catch((error: unknown) =>
          this.log.warn({ error: (error as Error).message }, "reconcile cycle failed"),
        );
        if (!this.#stopped) tick();
      }, this.intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#cycle?.catch(() => undefined);
  }

  /** One cycle now (a cycle already running is joined, not doubled). */
  runOnce(): Promise<ReconcileCycle> {
    if (!this.#cycle) {
      const started = performance.now();
      this.#cycle = this.#run().finally(() => {
        this.#cycle = undefined;
        this.cycleObserver?.((performance.now() - started) / 1000);
      });
    }
    return this.#cycle;
  }

  async #run(): Promise<ReconcileCycle> {
    const { store, engine, accounts, scales } = this.parts;
    const cycle: ReconcileCycle = {
      group_calls: 0,
      scopes: 0,
      clusters: 0,
      synced: 0,
      changes: 0,
      failures: 0,
      image_warnings: 0,
    };
    const checkImages = Date.now() - this.#imagesChecked >= this.imageCheckMs;
    if (checkImages) this.#imagesChecked = Date.now();
    // The online clusters of every profile, grouped by region and AWS account.
    const scopes = new Map<string, { region: string; credentials: Config; clusters: ClusterRecord[] }>();
    for (const profile of await store.listProfiles()) {
      for (const summary of await store.listClusters(profile.id)) {
        if (summary.status !== "online") continue;
        const cluster = await store.clusterByName(profile.id, summary.stack_name, summary.region);
        if (cluster?.status !== "online") continue;
        const key = `${cluster.account}\u0000${cluster.region}`;
        let scope = scopes.get(key);
        if (!scope) {
          scope = { region: cluster.region, credentials: accounts.credentialsFor(profile), clusters: [] };
          scopes.set(key, scope);
        }
        scope.clusters.push(cluster);
      }
    }
    for (const scope of scopes.values()) {
      cycle.scopes += 1;
      if (checkImages) await this.#images(scope, cycle);
      const calls = { count: 0 };
      let groups: GroupState[];
      try {
        groups = (await engine.clusterGroups?.(scope.credentials, scope.region, calls)) ?? [];
      } catch (error) {
        cycle.failures += 1;
        this.log.warn(
          { region: scope.region, error: (error as Error).message },
          "reconcile: groups not read",
        );
        continue;
      } finally {
        cycle.group_calls += calls.count;
      }
      // Groups by name: a group belongs to a cluster only when the cluster's own stack owns it (its
      // resources), never because of its tags (anyone can tag a group, in any VPC).
      const byName = new Map(groups.map((g) => [g.name, g]));
      for (const cluster of scope.clusters) {
        cycle.clusters += 1;
        // A scale or upgrade running on any replica (stored day-2 jobs) names its own nodes.
        if (scales.isRunning(cluster.id) || (await store.latestScale(cluster.id))?.state === "running")
          continue;
        const owned = await this.#owned(cluster, scope, cycle);
        if (!owned) continue;
        const inService = {
          controllers: owned.controllers.flatMap((name) => byName.get(name)?.in_service ?? []),
          workers: owned.workers.flatMap((name) => byName.get(name)?.in_service ?? []),
        };
        if (![...owned.controllers, ...owned.workers].some((name) => byName.has(name))) continue;
        const signature = JSON.stringify([[...inService.controllers].sort(), [...inService.workers].sort()]);
        if (this.#seen.get(cluster.id) === signature) continue;
        cycle.synced += 1;
        await this.#sync(cluster, scope, inService, signature, cycle);
      }
    }
    if (cycle.changes > 0 || cycle.failures > 0 || cycle.image_warnings > 0)
      this.log.info({ ...cycle }, "reconcile cycle");
    return cycle;
  }

  /**
   * The groups the cluster's own stack (its stored StackId) owns, read once per cluster and kept (a
   * scale changes a group's size, not its name). A stack deleted or replaced outside is written on
   * the cluster's record (its reasons and an event) once, and never acted on.
   */
  async #owned(
    cluster: ClusterRecord,
    scope: { region: string; credentials: Config },
    cycle: ReconcileCycle,
  ): Promise<{ controllers: string[]; workers: string[] } | undefined> {
    const known = this.#groups.get(cluster.id);
    if (known) return known === "foreign" ? undefined : known;
    if (!cluster.stack_id || !this.parts.engine.identify) return undefined;
    try {
      const identity = await this.parts.engine.identify(scope.credentials, {
        stack_name: cluster.stack_name,
        region: cluster.region,
        stack_id: cluster.stack_id,
      });
      if (identity.state === "ours") {
        this.#groups.set(cluster.id, identity.groups);
        return identity.groups;
      }
      this.#groups.set(cluster.id, "foreign");
      this.log.warn(
        { cluster: cluster.stack_name, reason: identity.message },
        "reconcile: not this cluster's stack",
      );
      await this.parts.store.updateCluster(cluster.id, { reasons: [identity.message] });
      await this.parts.store.addEvent(cluster.id, {
        time: new Date().toISOString(),
        step: "customize",
        kind: "warning",
        message: `reconcile: ${identity.message}`,
      });
    } catch (error) {
      cycle.failures += 1;
      this.log.warn(
        { cluster: cluster.stack_name, error: (error as Error).message },
        "reconcile: the cluster's stack not read",
      );
    }
    return undefined;
  }

  /**
   * The image warning of each cluster of the scope, recorded once (see the class). The image is the
   * one the cluster's stored result names (its create's, or its last server upgrade's); a cluster
   * whose image could not be read is left as it was.
   */
  async #images(
    scope: { region: string; credentials: Config; clusters: ClusterRecord[] },
    cycle: ReconcileCycle,
  ): Promise<void> {
    const { store, engine } = this.parts;
    if (!engine.imageAdvice) return;
    // A cluster being scaled or upgraded is left to its job (an upgrade changes the image).
    const clusters: ClusterRecord[] = [];
    for (const cluster of scope.clusters) {
      if (!imageOf(cluster) || this.parts.scales.isRunning(cluster.id)) continue;
      if ((await store.latestScale(cluster.id).catch(() => undefined))?.state === "running") continue;
      clusters.push(cluster);
    }
    if (clusters.length === 0) return;
    let advice: (ImageAdvice | null)[];
    try {
      advice = await engine.imageAdvice(
        scope.credentials,
        scope.region,
        clusters.map((c) => ({
          image_id: imageOf(c),
          channel: c.options.channel ?? null,
          arch: c.options.arch ?? null,
          ref: { stack_name: c.stack_name, region: c.region },
        })),
      );
    } catch (error) {
      cycle.failures += 1;
      this.log.warn({ region: scope.region, error: (error as Error).message }, "reconcile: images not read");
      return;
    }
    for (const [i, cluster] of clusters.entries()) {
      const found = advice[i];
      if (!found) continue;
      const warning = imageWarning(found);
      const event = warning && {
        time: new Date().toISOString(),
        step: "image",
        kind: "warning",
        message: `reconcile: ${warning.warning}`,
        ...(warning.command ? { command: warning.command } : {}),
      };
      try {
        if (await store.recordImageWarning(cluster.id, warning, event ?? undefined))
          if (warning) cycle.image_warnings += 1;
      } catch (error) {
        cycle.failures += 1;
        this.log.warn(
          { cluster: cluster.stack_name, error: (error as Error).message },
          "reconcile: image warning not stored",
        );
      }
    }
  }

  async #sync(
    cluster: ClusterRecord,
    scope: { region: string; credentials: Config },
    inService: { controllers: string[]; workers: string[] },
    signature: string,
    cycle: ReconcileCycle,
  ): Promise<void> {
    const { store, engine } = this.parts;
    try {
      const result = await engine.syncInService?.(
        scope.credentials,
        { stack_name: cluster.stack_name, region: cluster.region, stack_id: cluster.stack_id ?? "" },
        inService,
      );
      if (result?.status !== "success") {
        cycle.failures += 1;
        this.log.warn({ cluster: cluster.stack_name, error: result?.message }, "reconcile: names not fixed");
        return; // not remembered: tried again next cycle
      }
      this.#seen.set(cluster.id, signature);
      for (const change of result.changes) {
        cycle.changes += 1;
        await store.addEvent(cluster.id, {
          time: new Date().toISOString(),
          step: "customize",
          kind: "step",
          message: `reconcile: ${change}`,
        });
      }
    } catch (error) {
      cycle.failures += 1;
      this.log.warn(
        { cluster: cluster.stack_name, error: (error as Error).message },
        "reconcile: names not fixed",
      );
    }
  }
}

/** The image the cluster runs, as its stored result says (create's, or the server's last upgrade's). */
function imageOf(cluster: ClusterRecord): string | null {
  return (cluster.result as ClusterResult | null)?.cluster?.image_id ?? null;
}

/**
 * The advice as the warning the store keeps: null when there is nothing to do. Its key is the image
 * and what is wrong with it, so that a warning that changes (deprecated now, or a newer image out)
 * is a new event and the same one is not.
 */
export function imageWarning(advice: ImageAdvice): ImageWarning | null {
  if (!advice.warning) return null;
  const deprecated =
    advice.deprecated_at && Date.parse(advice.deprecated_at) <= Date.now() ? "deprecated" : "deprecating";
  const what = advice.gone
    ? "gone"
    : advice.deprecated_at
      ? `${deprecated}:${advice.deprecated_at.slice(0, 10)}`
      : `outdated:${advice.newer?.image_id ?? ""}`;
  return {
    key: `${advice.image_id}:${what}`,
    warning: advice.warning,
    command: advice.command,
    image_id: advice.image_id,
    deprecated_at: advice.deprecated_at,
  };
}
