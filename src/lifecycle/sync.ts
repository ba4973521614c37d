import { awsFailure } from "../aws/errors.js";
import { describeNodes, nodeInfo } from "../aws/nodes.js";
import type { Stack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import type { StackOptions } from "../options.js";
import { customize } from "./customize.js";
import { clusterFacts } from "./facts.js";
import { command } from "./hints.js";
import { clusterStack } from "./identity.js";
import { clusterGroups, nodesInService } from "./nodes.js";
import { openSession, type Session, seconds } from "./session.js";
import type { Hooks, NodeInfo, SyncResult } from "./types.js";

/** How long sync waits for Route 53 to publish its changes. */
const SYNC_TIMEOUT_MINUTES = 5;

/**
 * Brings a cluster's private names in line with the instances its Auto Scaling groups have in
 * service now: survivors keep their node-<i> names, a new instance takes a freed name, records of
 * instances that are gone are deleted, etcd.<zone> lists the controllers in service. Says what it
 * changed; nothing to change is a success that says so.
 */
export async function sync(
  credentials: Config | undefined,
  options: StackOptions,
  hooks: Hooks = {},
): Promise<SyncResult> {
  const session = await openSession(credentials, options, hooks);
  const stack = await clusterStack(session, options, { doing: "reading", ours: true });
  const status = stack.StackStatus ?? "UNKNOWN";
  const ref = { stack_name: options.stack_name, region: session.region, profile: session.profile };
  if (status.endsWith("_IN_PROGRESS") || /FAILED|ROLLBACK_COMPLETE$|^DELETE/.test(status)) {
    if (status !== "UPDATE_ROLLBACK_COMPLETE") {
      const next = status.endsWith("_IN_PROGRESS")
        ? `wait for it with: ${command("wait", ref)}`
        : `see why with: ${command("status", ref)}`;
      throw new OperationError(`cluster ${options.stack_name} is ${status}: no names to sync; ${next}`);
    }
  }
  const groups = await clusterGroups(session, stack).catch((error) => {
    throw awsFailure("finding the cluster's Auto Scaling groups", error);
  });
  if (!groups)
    throw new OperationError(`stack ${options.stack_name} has no Auto Scaling group: no nodes to name`);
  const nodes = await nodesInService(session, groups).catch((error) => {
    throw awsFailure("listing the cluster's instances in service", error);
  });
  return syncNames(session, stack, nodes);
}

/** The naming half of sync, for nodes already found (the server's reconciler finds them in bulk). */
export async function syncNames(session: Session, stack: Stack, nodes: NodeInfo[]): Promise<SyncResult> {
  const facts = clusterFacts(stack);
  const ref = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
  const base = {
    stack_name: facts.stack_name,
    region: session.region,
    reasons: [] as string[],
  };
  try {
    const dns = await customize(session, facts, stack, nodes, {
      deadline: Date.now() + SYNC_TIMEOUT_MINUTES * 60_000,
      timeout_minutes: SYNC_TIMEOUT_MINUTES,
      ref,
      resume: true,
      doing: "updated",
    });
    const changes = dns.dns_changes;
    const message =
      changes.length === 0
        ? `the names of ${facts.stack_name} are right: nothing to change (${dns.nodes.length} nodes in service)`
        : `changed ${changes.length} name${changes.length === 1 ? "" : "s"} of ${facts.stack_name} in ${dns.private_zone}`;
    return {
      ...base,
      status: "success",
      message,
      private_zone: dns.private_zone,
      private_zone_id: dns.private_zone_id,
      changes,
      nodes: dns.nodes,
      records: dns.records,
      timings: { total: seconds(session.started) },
    };
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    return {
      ...base,
      status: "failure",
      message: error.message,
      private_zone: null,
      private_zone_id: null,
      changes: [],
      nodes,
      records: [],
      reasons: error.reasons,
      timings: { total: seconds(session.started) },
    };
  }
}

/**
 * Sync for the server's reconciler, which has already read the groups in bulk (one
 * DescribeAutoScalingGroups per region and account): the InService instance ids of the cluster's
 * groups are given; this reads the stack, the instances' addresses and the zone, and fixes names.
 */
export async function syncInService(
  credentials: Config | undefined,
  options: { stack_name: string; region: string; stack_id?: string },
  inService: { controllers: string[]; workers: string[] },
  hooks: Hooks = {},
): Promise<SyncResult> {
  const session = await openSession(credentials, options, hooks);
  const stack = await clusterStack(session, options, { doing: "reading", ours: true });
  const roleOf = new Map<string, "controller" | "worker">([
    ...inService.controllers.map((id) => [id, "controller"] as const),
    ...inService.workers.map((id) => [id, "worker"] as const),
  ]);
  const described = roleOf.size > 0 ? await describeNodes(session.clients.ec2, [...roleOf.keys()]) : [];
  const nodes = described
    .filter((n) => n.state === "running" && n.private_ip)
    .map((n) => ({ ...nodeInfo(n), role: roleOf.get(n.instance_id) ?? ("controller" as const) }));
  return syncNames(session, stack, nodes);
}
