import { awsFailure, isTransient } from "../aws/errors.js";
import { describeGroups, type GroupState, resizeGroup, terminateInGroup } from "../aws/groups.js";
import { describeNodes, type NodeState } from "../aws/nodes.js";
import { OperationError } from "../errors.js";
import { type ClusterRef, command } from "./hints.js";
import { type ClusterGroups, controllerGroups } from "./nodes.js";
import { Aborted, Pace, pause } from "./pace.js";
import type { Session } from "./session.js";
import type { RollStep } from "./types.js";

/**
 * How the instances of a cluster are moved to a new image once its launch templates name it: the
 * tool replaces them itself, through Auto Scaling (TerminateInstanceInAutoScalingGroup, which
 * launches the replacement from the group's current launch template version), rather than with an
 * instance refresh. Why: a controller may only go once the one before is back *and* etcd has its N
 * members again, a condition an instance refresh cannot wait for (its checkpoints and warm-up are
 * timers); and one mechanism serves both roles. The cost: the roll goes on only while the tool
 * runs. It is safe to stop at any point and to start again: every pass replaces only the instances
 * not yet on the target, and starts a replacement only when every instance is in service.
 *
 * The target is the image, and for the controllers the etcd version when one is given: a controller
 * whose pandacluster:etcd-version tag (its launch template version's EtcdVersion) is another is
 * replaced even on the target image, so that `upgrade --etcd-version` alone replaces the controllers
 * and leaves the workers (whose launch template it does not change) alone.
 */
export interface RollPlan {
  target_image: string;
  /** The controllers' target etcd version (upgrade --etcd-version, or the stack's EtcdVersion). */
  target_etcd_version?: string;
  controllers: PlannedReplacement[];
  workers: PlannedReplacement[];
  /** How the workers are replaced: batches that keep min_healthy % in service, or one extra at a time. */
  worker_strategy: { kind: "batches" | "surge"; batch: number; min_in_service: number; min_healthy: number };
}

export interface PlannedReplacement {
  order: number;
  role: "controller" | "worker";
  group: string;
  instance_id: string;
  private_ip: string | null;
  image_from: string | null;
  image_to: string;
  /** A controller's etcd move, when the roll has an etcd target. */
  etcd_from?: string | null;
  etcd_to?: string;
}

/** The live instances of the cluster's groups with their images, and the groups' sizes. */
export interface Fleet {
  groups: GroupState[];
  nodes: Map<string, NodeState>;
}

export async function readFleet(session: Session, groups: ClusterGroups): Promise<Fleet> {
  const names = [...controllerGroups(groups), ...(groups.workers ? [groups.workers] : [])];
  const states = await describeGroups(session.clients.autoscaling, names);
  const ids = states.flatMap((g) => g.all);
  const nodes = ids.length > 0 ? await describeNodes(session.clients.ec2, ids) : [];
  return { groups: states, nodes: new Map(nodes.map((n) => [n.instance_id, n])) };
}

/** Workers replaced per step: as many as min_healthy allows, else one launched before one goes. */
export function workerStrategy(desired: number, minHealthy: number): RollPlan["worker_strategy"] {
  const minInService = Math.ceil((desired * minHealthy) / 100);
  const batch = desired - minInService;
  return batch >= 1
    ? { kind: "batches", batch, min_in_service: minInService, min_healthy: minHealthy }
    : { kind: "surge", batch: 1, min_in_service: desired, min_healthy: minHealthy };
}

/** Whether an instance is on the target: its image, and a controller's etcd version when one is set. */
export function onTarget(
  node: NodeState,
  role: "controller" | "worker",
  target: string,
  etcdVersion?: string,
): boolean {
  if (node.image_id !== target) return false;
  return role === "worker" || etcdVersion === undefined || node.etcd_version === etcdVersion;
}

/** Which instances the roll replaces, in order: controllers one by one, then the workers. */
export function planRoll(
  fleet: Fleet,
  groups: ClusterGroups,
  target: string,
  minHealthy: number,
  etcdVersion?: string,
): RollPlan {
  let order = 0;
  // In group order (a controller slot's group after another's), then by address within a group.
  const outdated = (names: (string | null)[], role: "controller" | "worker"): PlannedReplacement[] =>
    names.flatMap((name) => {
      const group = fleet.groups.find((g) => g.name === name);
      if (!group) return [];
      return group.all
        .map((id) => fleet.nodes.get(id))
        .filter((n): n is NodeState => n !== undefined && !onTarget(n, role, target, etcdVersion))
        .sort((a, b) => (a.private_ip ?? "").localeCompare(b.private_ip ?? "", "en", { numeric: true }))
        .map((n) => ({
          order: ++order,
          role,
          group: group.name,
          instance_id: n.instance_id,
          private_ip: n.private_ip,
          image_from: n.image_id,
          image_to: target,
          ...(role === "controller" && etcdVersion !== undefined
            ? { etcd_from: n.etcd_version ?? null, etcd_to: etcdVersion }
            : {}),
        }));
    });
  const controllers = outdated(controllerGroups(groups), "controller");
  const workers = outdated([groups.workers], "worker");
  const workerGroup = fleet.groups.find((g) => g.name === groups.workers);
  return {
    target_image: target,
    ...(etcdVersion !== undefined ? { target_etcd_version: etcdVersion } : {}),
    controllers,
    workers,
    worker_strategy: workerStrategy(workerGroup?.desired ?? 0, minHealthy),
  };
}

export interface RollContext {
  session: Session;
  groups: ClusterGroups;
  target: string;
  /** The controllers' target etcd version (their pandacluster:etcd-version tag), when there is one. */
  etcd_version?: string;
  min_healthy: number;
  deadline: number;
  timeout_minutes: number;
  ref: ClusterRef;
  /** Called after each replacement, with the nodes in service: names follow the instances. */
  afterStep(): Promise<void>;
}

/**
 * Replaces every instance not on the target image: the controllers one at a time (the next only
 * once the group has all its members in service again, on the new image), then the workers in
 * batches that keep `min_healthy` percent in service (or, when no batch can, one launched before
 * one goes). Returns each replacement done.
 */
export async function roll(context: RollContext): Promise<RollStep[]> {
  const steps: RollStep[] = [];
  const { session, groups } = context;
  for (;;) {
    const fleet = await read(context);
    const next = planRoll(fleet, groups, context.target, context.min_healthy, context.etcd_version)
      .controllers[0];
    const group = fleet.groups.find((g) => g.name === next?.group);
    if (!group || !next) break;
    // Never a controller out while any other is: every controller group whole first.
    for (const name of controllerGroups(groups)) await whole(context, name, "controller");
    const started = Date.now();
    const etcdMove =
      next.etcd_to !== undefined && next.etcd_from !== next.etcd_to
        ? `, etcd ${next.etcd_from ?? "?"} → ${next.etcd_to}`
        : "";
    session.emit(
      "roll",
      `replacing controller ${next.instance_id} (${next.private_ip ?? "no address"}): ${next.image_from} → ${context.target}${etcdMove}`,
    );
    await act(context, () => terminateInGroup(session.clients.autoscaling, next.instance_id, false));
    const replacement = await replaced(
      context,
      group.name,
      [next.instance_id],
      new Set(group.all),
      "controller",
    );
    await memberBack(context, replacement);
    steps.push(stepOf(next, replacement, started));
    await context.afterStep();
  }
  const workers = groups.workers;
  if (!workers) return steps;
  for (;;) {
    const fleet = await read(context);
    const group = fleet.groups.find((g) => g.name === workers);
    const plan = planRoll(fleet, groups, context.target, context.min_healthy, context.etcd_version);
    if (!group || plan.workers.length === 0) break;
    await whole(context, group.name, "worker");
    const strategy = plan.worker_strategy;
    const batch = plan.workers.slice(0, strategy.batch);
    const started = Date.now();
    const ids = batch.map((b) => b.instance_id);
    if (strategy.kind === "surge") {
      // Min healthy allows no instance out of service: launch one more first, then let one go.
      session.emit("roll", `launching one extra worker before replacing ${ids[0]}`);
      await act(context, () =>
        resizeGroup(session.clients.autoscaling, group.name, {
          max: Math.max(group.max, group.desired + 1),
          desired: group.desired + 1,
        }),
      );
      const extra = await grown(context, group.name, group.desired + 1, new Set(group.all));
      await act(context, () => terminateInGroup(session.clients.autoscaling, ids[0] ?? "", true));
      await act(context, () =>
        resizeGroup(session.clients.autoscaling, group.name, { max: group.max, desired: group.desired }),
      );
      await gone(context, group.name, ids);
      steps.push(stepOf(batch[0] as PlannedReplacement, extra, started));
    } else {
      session.emit(
        "roll",
        `replacing ${ids.length} worker${ids.length === 1 ? "" : "s"} (${ids.join(", ")}), keeping ${strategy.min_in_service} of ${group.desired} in service`,
      );
      for (const id of ids) {
        await act(context, () => terminateInGroup(session.clients.autoscaling, id, false));
      }
      const replacements = await replaced(context, group.name, ids, new Set(group.all), "worker");
      batch.forEach((b, i) => {
        steps.push(stepOf(b, replacements[i] ?? null, started));
      });
    }
    await context.afterStep();
  }
  return steps;
}

function stepOf(
  planned: PlannedReplacement,
  replacement: string | string[] | null,
  started: number,
): RollStep {
  const id = Array.isArray(replacement) ? (replacement[0] ?? null) : replacement;
  return {
    role: planned.role,
    replaced: planned.instance_id,
    by: id,
    image_from: planned.image_from,
    image_to: planned.image_to,
    ...(planned.etcd_to !== undefined
      ? { etcd_from: planned.etcd_from ?? null, etcd_to: planned.etcd_to }
      : {}),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** Waits until the group has all its desired instances in service (never start on a group short of one). */
async function whole(context: RollContext, name: string, role: string): Promise<void> {
  await until(context, `all ${role}s in service before the next replacement`, (fleet) => {
    const group = fleet.groups.find((g) => g.name === name);
    return (
      group !== undefined && group.in_service.length >= group.desired && group.all.length === group.desired
    );
  });
}

/**
 * Waits until the instances `out` have left the group and as many new ones are in service, running,
 * on the target (image, and a controller's etcd version); returns the new ones' ids.
 */
async function replaced(
  context: RollContext,
  name: string,
  out: string[],
  before: Set<string>,
  role: "controller" | "worker",
): Promise<string[]> {
  let fresh: string[] = [];
  await until(context, `the replacement ${role}${out.length === 1 ? "" : "s"} in service`, (fleet) => {
    const group = fleet.groups.find((g) => g.name === name);
    if (!group || group.in_service.length < group.desired) return false;
    if (group.all.some((id) => out.includes(id))) return false;
    fresh = group.in_service.filter((id) => {
      const node = fleet.nodes.get(id);
      return (
        !before.has(id) &&
        node?.state === "running" &&
        onTarget(node, role, context.target, context.etcd_version)
      );
    });
    return fresh.length >= out.length;
  });
  return fresh;
}

/**
 * A static controller (one with an etcd slot) counts as back only once its node says its member is
 * healthy among N voting members (the pandacluster:etcd-status tag its boot script writes after
 * `ready`): being in service is not enough, the next controller must not go before etcd has N
 * members again. A controller of the discovery mode has no slot and no such word to wait for.
 */
async function memberBack(context: RollContext, ids: string[]): Promise<void> {
  await until(context, "the new controller's etcd member healthy among all members", (fleet) =>
    ids.every((id) => {
      const node = fleet.nodes.get(id);
      return node?.slot === undefined || (node.etcd_status ?? "").startsWith("healthy");
    }),
  );
}

/** Waits until the group has `size` instances in service (the surge instance is up); returns the newest. */
async function grown(
  context: RollContext,
  name: string,
  size: number,
  before: Set<string>,
): Promise<string | null> {
  let added: string | null = null;
  await until(context, "the extra worker in service", (fleet) => {
    const group = fleet.groups.find((g) => g.name === name);
    if (!group || group.in_service.length < size) return false;
    added =
      group.in_service.find((id) => !before.has(id) && fleet.nodes.get(id)?.image_id === context.target) ??
      added;
    return true;
  });
  return added;
}

/** Waits until the instances have left the group. */
async function gone(context: RollContext, name: string, ids: string[]): Promise<void> {
  await until(context, "the replaced worker to leave the group", (fleet) => {
    const group = fleet.groups.find((g) => g.name === name);
    return group !== undefined && !group.all.some((id) => ids.includes(id));
  });
}

async function read(context: RollContext): Promise<Fleet> {
  return act(context, () => readFleet(context.session, context.groups));
}

/** One AWS call of the roll; a transient failure is retried until the deadline. */
async function act<T>(context: RollContext, call: () => Promise<T>): Promise<T> {
  const pace = new Pace(context.session.hooks.poll?.initial_ms, context.session.hooks.poll?.max_ms);
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error) || Date.now() >= context.deadline)
        throw awsFailure("replacing the cluster's instances", error);
      pace.slower(2);
      await wait(context, pace.next());
    }
  }
}

/** The longest pause between two looks while a replacement boots: an instance serves within a minute. */
const ROLL_POLL_MAX_MS = 5_000;

async function until(context: RollContext, what: string, done: (fleet: Fleet) => boolean): Promise<void> {
  const poll = context.session.hooks.poll;
  const pace = new Pace(poll?.initial_ms, Math.min(poll?.max_ms ?? ROLL_POLL_MAX_MS, ROLL_POLL_MAX_MS));
  let announced = false;
  for (;;) {
    if (done(await read(context))) return;
    if (!announced) {
      context.session.emit("roll", `waiting for ${what}`, { kind: "waiting" });
      announced = true;
    }
    if (Date.now() >= context.deadline) {
      throw new OperationError(
        `the upgrade of ${context.ref.stack_name} stopped after ${context.timeout_minutes} minutes waiting for ${what}; ` +
          `the cluster keeps serving. Go on with: ${command("upgrade", context.ref)}`,
      );
    }
    await wait(context, Math.min(pace.next(), Math.max(0, context.deadline - Date.now())));
    pace.slower();
  }
}

async function wait(context: RollContext, ms: number): Promise<void> {
  try {
    await pause(ms, context.session.hooks.signal);
  } catch (error) {
    if (error instanceof Aborted) throw new RollInterrupted();
    throw error;
  }
}

/** The roll was interrupted between two AWS calls; the upgrade says where it stands. */
export class RollInterrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "RollInterrupted";
  }
}
