import type { StackResource } from "@aws-sdk/client-cloudformation";
import { findClusterZones, findPublicZone, getZone, listRecords, madeFor } from "../aws/dns.js";
import { awsFailure } from "../aws/errors.js";
import {
  deletedStack,
  describeStack,
  newStackEvents,
  outputsOf,
  type Stack,
  stackResources,
} from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import type { StackOptions } from "../options.js";
import { clusterFacts, privateZoneOutput } from "./facts.js";
import { clusterStack, StackReplacedError } from "./identity.js";
import { imageAdvice } from "./image_age.js";
import { clusterGroups, groupsNodes } from "./nodes.js";
import { ownPublicRecord } from "./public_dns.js";
import { failureReasons } from "./reasons.js";
import { openSession, type Session } from "./session.js";
import type { DnsInfo, NodeInfo, SlotStatus, StatusResult } from "./types.js";

/** A cluster's stack status, its nodes as EC2 sees them now, and its DNS names. */
export async function status(credentials: Config | undefined, options: StackOptions): Promise<StatusResult> {
  const session = await openSession(credentials, options);
  try {
    const stack = await theStack(session, options);
    const facts = clusterFacts(stack);
    const failed = /FAILED|ROLLBACK/.test(stack.StackStatus ?? "");
    const ref = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
    const [nodes, dns, reasons, groups, image] = await Promise.all([
      currentNodes(session, stack),
      currentDns(session, facts.stack_name, facts.stack_id, facts.public_domain, privateZoneOutput(stack)),
      failed
        ? newStackEvents(session.clients.cloudformation, facts.stack_id, new Set()).then((e) =>
            failureReasons(e, stack),
          )
        : [],
      stack.StackStatus?.startsWith("DELETE")
        ? []
        : stackResources(
            session.clients.cloudformation,
            facts.stack_id,
            "AWS::AutoScaling::AutoScalingGroup",
          ),
      // The advice is a bonus: a status that cannot read images still answers.
      imageAdvice(session.clients.ec2, [{ ...facts, ref }]).then(
        ([advice]) => advice ?? null,
        () => null,
      ),
    ]);
    return {
      stack_name: facts.stack_name,
      stack_id: facts.stack_id,
      region: session.region,
      stack_status: stack.StackStatus ?? "UNKNOWN",
      status_reason: stack.StackStatusReason ?? null,
      created_at: facts.created_at,
      channel: facts.channel,
      arch: facts.arch,
      instance_type: facts.instance_type,
      cluster_size: facts.cluster_size,
      workers: facts.workers,
      image_id: facts.image_id,
      discovery_url: facts.discovery_url,
      image,
      nodes,
      dns,
      outputs: outputsOf(stack),
      reasons,
      slots: slotStatuses(groups, nodes),
    };
  } catch (error) {
    throw awsFailure(`reading the status of ${options.stack_name}`, error);
  }
}

/** One line per ControllerGroup{i}: the slot's group, its creation signal, its node and member. */
function slotStatuses(groups: StackResource[], nodes: NodeInfo[]): SlotStatus[] {
  const slots: SlotStatus[] = [];
  for (const group of groups) {
    const slot = Number(/^ControllerGroup(\d+)$/.exec(group.LogicalResourceId ?? "")?.[1]);
    if (!Number.isInteger(slot) || slot < 1) continue;
    const node = nodes.find((n) => n.slot === slot);
    const status = group.ResourceStatus ?? null;
    slots.push({
      slot,
      group: group.PhysicalResourceId ?? "",
      resource_status: status,
      // A group with a creation policy completes only on its node's SUCCESS signal.
      signalled: status === "CREATE_COMPLETE" || (status?.startsWith("UPDATE_") ?? false),
      instance_id: node?.instance_id ?? null,
      availability_zone: node?.availability_zone ?? null,
      private_ip: node?.private_ip ?? null,
      etcd_status: node?.etcd_status ?? null,
    });
  }
  return slots.sort((a, b) => a.slot - b.slot);
}

/**
 * By the StackId the cluster's create returned when it is known (a deleted one still answers, as
 * DELETE_COMPLETE, unless a stack of that name with another id stands in its place: that one is not
 * this cluster's, StackReplacedError); else the live stack of that name.
 */
async function theStack(session: Session, options: StackOptions): Promise<Stack> {
  if (options.stack_id) {
    const stack = await describeStack(session.clients.cloudformation, options.stack_id);
    if (stack && stack.StackStatus !== "DELETE_COMPLETE") return clusterStack(session, options);
    const byName = await describeStack(session.clients.cloudformation, options.stack_name);
    if (byName?.StackId && byName.StackId !== options.stack_id)
      throw new StackReplacedError(options.stack_name, session.region, options.stack_id, byName.StackId);
    if (stack) return stack;
  }
  const stack = await describeStack(session.clients.cloudformation, options.stack_name);
  if (!stack) throw await notFound(session, options.stack_name);
  return stack;
}

async function notFound(session: Session, name: string): Promise<OperationError> {
  const gone = await deletedStack(session.clients.cloudformation, name);
  const when = gone?.DeletionTime ? ` (it was deleted on ${gone.DeletionTime.toISOString()})` : "";
  return new OperationError(`no cluster named ${name} in ${session.region}${when}`);
}

/** The group's instances that are not on their way out; none while the group does not exist. */
async function currentNodes(session: Session, stack: Stack): Promise<NodeInfo[]> {
  if (!/COMPLETE|IN_PROGRESS/.test(stack.StackStatus ?? "") || stack.StackStatus?.startsWith("DELETE"))
    return [];
  const groups = await clusterGroups(session, stack);
  if (!groups) return [];
  return groupsNodes(session, groups);
}

async function currentDns(
  session: Session,
  stackName: string,
  stackId: string,
  publicDomain: string | null,
  stackZone?: string,
): Promise<DnsInfo | null> {
  const r53 = session.clients.route53;
  // Static controllers: the stack made the zone (its PrivateZoneId output). Else the zone create made
  // for this very stack (a zone another stack of that name left is not its).
  const zones = stackZone ? [] : await findClusterZones(r53, stackName, session.region);
  const zone = stackZone
    ? await getZone(r53, stackZone)
    : (zones.find((z) => madeFor(z, stackId)) ?? zones.find((z) => z.stack_id_tail === null));
  if (!zone && !publicDomain) return null;
  const records = zone ? await listRecords(r53, zone.id) : [];
  const dns: DnsInfo = {
    private_zone_id: zone?.id ?? null,
    private_zone: zone?.name ?? null,
    records,
    public_name: null,
  };
  if (publicDomain) {
    const publicZone = await findPublicZone(r53, publicDomain);
    // Only a public name that is this stack's own (its ownership record), not one another cluster holds.
    const record = publicZone
      ? await ownPublicRecord(session, publicZone, { stack_name: stackName, stack_id: stackId })
      : undefined;
    if (record && publicZone) {
      dns.records.push(record);
      dns.public_name = record.name;
      dns.public_zone_id = publicZone.id;
    }
  }
  return dns;
}
