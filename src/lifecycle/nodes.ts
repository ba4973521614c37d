import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { awsFailure, isTransient } from "../aws/errors.js";
import { describeGroups } from "../aws/groups.js";
import { describeNodes, groupNodes, nodeInfo } from "../aws/nodes.js";
import { ownedResources, type Stack } from "../aws/stacks.js";
import { OperationError } from "../errors.js";
import { ROLES } from "../template/group.js";
import { type ClusterRef, type Doing, interrupted, timedOut } from "./hints.js";
import { Aborted, Pace, pause } from "./pace.js";
import type { Session } from "./session.js";
import type { NodeInfo } from "./types.js";

export interface NodesStep {
  auto_scaling_group: string;
  worker_group: string | null;
  nodes: NodeInfo[];
  polls: number;
}

/**
 * The cluster's Auto Scaling groups: controllers (etcd members; one group, or one per controller slot)
 * and workers (none in old stacks).
 */
export interface ClusterGroups {
  /** The first controllers' group (the only one in a stack with a single controller group). */
  controllers: string;
  /** Every controllers' group the stack owns, in logical-id order. */
  controller_groups: string[];
  workers: string | null;
}

/** The controllers' first Auto Scaling group, of the stack's own resources. */
export async function nodeGroup(session: Session, stack: Stack): Promise<string | undefined> {
  return (await clusterGroups(session, stack))?.controllers;
}

/**
 * The groups the stack owns: its AWS::AutoScaling::AutoScalingGroup resources (ListStackResources by
 * StackId), the role told by the stack's own logical id (the workers' group is WorkerGroup, every
 * other group holds controllers: AutoScalingGroup, or ControllerGroup0…N-1). Never its outputs
 * (a template of the user's own may output any group's name) and never a tag (anyone can tag a group).
 */
export async function clusterGroups(session: Session, stack: Stack): Promise<ClusterGroups | undefined> {
  return groupsOfStack(session.clients.cloudformation, stack.StackId ?? "");
}

/** clusterGroups for a StackId alone (the server's reconciler keeps no Stack). */
export async function groupsOfStack(
  cf: CloudFormationClient,
  stackId: string,
): Promise<ClusterGroups | undefined> {
  if (!stackId) return undefined;
  const owned = await ownedResources(cf, stackId, "AWS::AutoScaling::AutoScalingGroup");
  const byId = [...owned].sort((a, b) => a.logical_id.localeCompare(b.logical_id, "en", { numeric: true }));
  const worker = byId.find((g) => g.logical_id === ROLES.worker.group)?.physical_id;
  const controllers = byId.filter((g) => g.logical_id !== ROLES.worker.group).map((g) => g.physical_id);
  const first = controllers[0];
  return first ? { controllers: first, controller_groups: controllers, workers: worker ?? null } : undefined;
}

/** Every controllers' group (a ClusterGroups made before controller_groups has only `controllers`). */
export function controllerGroups(groups: ClusterGroups): string[] {
  return groups.controller_groups?.length ? groups.controller_groups : [groups.controllers];
}

/**
 * The instances each group counts as in service (InService and Healthy: one
 * DescribeAutoScalingGroups for both groups) that EC2 shows running with an address (one
 * DescribeInstances), each with its role.
 */
export async function nodesInService(session: Session, groups: ClusterGroups): Promise<NodeInfo[]> {
  const names = [...controllerGroups(groups), ...(groups.workers ? [groups.workers] : [])];
  const states = await describeGroups(session.clients.autoscaling, names);
  const roleOf = new Map<string, "controller" | "worker">();
  for (const state of states) {
    const role = state.name === groups.workers ? "worker" : "controller";
    for (const id of state.in_service) roleOf.set(id, role);
  }
  if (roleOf.size === 0) return [];
  const described = await describeNodes(session.clients.ec2, [...roleOf.keys()]);
  return described
    .filter((n) => n.state === "running" && n.private_ip)
    .map((n) => ({ ...nodeInfo(n), role: roleOf.get(n.instance_id) ?? "controller" }));
}

/** Every live instance of both groups (pending or running), with its role: what status shows. */
export async function groupsNodes(session: Session, groups: ClusterGroups): Promise<NodeInfo[]> {
  const [controllers, workers] = await Promise.all([
    Promise.all(controllerGroups(groups).map((g) => groupNodes(session.clients.ec2, g))).then((all) =>
      all.flat(),
    ),
    groups.workers ? groupNodes(session.clients.ec2, groups.workers) : Promise.resolve([]),
  ]);
  return [
    ...controllers.map((n) => ({ ...nodeInfo(n), role: "controller" as const })),
    ...workers.map((n) => ({ ...nodeInfo(n), role: "worker" as const })),
  ];
}

/**
 * Waits until the controllers' group has at least `controllers` and the workers' group exactly
 * `workers` instances in service and running with addresses, and returns them. A complete stack
 * only means the groups exist (or have their new size): instances may still be pending, or on
 * their way out after a scale-in.
 */
export async function waitForNodes(
  session: Session,
  stack: Stack,
  target: { controllers: number; workers: number },
  wait: { deadline: number; timeout_minutes: number; ref: ClusterRef; doing?: Doing },
): Promise<NodesStep> {
  const doing = wait.doing ?? "created";
  const groups = await clusterGroups(session, stack).catch((error) => {
    throw awsFailure("finding the cluster's Auto Scaling groups", error);
  });
  if (!groups)
    throw new OperationError(`stack ${stack.StackName} has no Auto Scaling group: no nodes to find`);
  const workers = groups.workers ? target.workers : 0;
  const total = target.controllers + workers;
  const what =
    workers > 0 || groups.workers
      ? `${target.controllers} controllers and ${workers} workers`
      : `${total} nodes`;
  session.emit(
    "nodes",
    `waiting for ${what} in service (${[...controllerGroups(groups), groups.workers].filter(Boolean).join(", ")})`,
  );
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  let last = "";
  let polls = 0;
  let counts = { controllers: 0, workers: 0 };
  for (;;) {
    if (session.hooks.signal?.aborted) throw interrupted(wait.ref, doing);
    try {
      polls += 1;
      const nodes = await nodesInService(session, groups);
      const c = nodes.filter((n) => n.role !== "worker");
      const w = nodes.filter((n) => n.role === "worker");
      counts = { controllers: c.length, workers: w.length };
      if (c.length >= target.controllers && w.length === workers) {
        session.emit("nodes", `${nodes.length} nodes in service`);
        return { auto_scaling_group: groups.controllers, worker_group: groups.workers, nodes, polls };
      }
      const line = `${c.length}/${target.controllers} controllers, ${w.length}/${workers} workers in service`;
      if (line !== last) {
        last = line;
        session.emit("nodes", line, { kind: "waiting" });
        pace.reset();
      } else pace.slower();
    } catch (error) {
      if (!isTransient(error)) throw awsFailure("listing the cluster's instances", error);
      pace.slower(2);
    }
    const now = Date.now();
    if (now >= wait.deadline)
      throw timedOut(
        wait.ref,
        wait.timeout_minutes,
        `${stack.StackStatus} with ${counts.controllers}/${target.controllers} controllers and ${counts.workers}/${workers} workers in service`,
        doing,
      );
    try {
      await pause(Math.min(pace.next(), wait.deadline - now), session.hooks.signal);
    } catch (error) {
      if (error instanceof Aborted) throw interrupted(wait.ref, doing);
      throw error;
    }
  }
}
