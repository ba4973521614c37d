import type { EC2Client, Instance } from "@aws-sdk/client-ec2";
import { sdk } from "./sdk.js";
import type { NodeInfo } from "./types.js";

/** A node as EC2 sees it right now: NodeInfo plus the instance state ("pending", "running"…). */
export interface NodeState extends NodeInfo {
  state: string;
  /** The image the instance was launched from (what an upgrade replaces). */
  image_id: string | null;
  /**
   * A controller's pandacluster:etcd-version tag: the etcd version of the launch template version it
   * was launched from (undefined on instances of templates before the EtcdVersion parameter).
   */
  etcd_version?: string;
}

/**
 * The live (pending or running) instances of an Auto Scaling group, found by the
 * aws:autoscaling:groupName tag that Auto Scaling itself puts on every instance it launches: one
 * DescribeInstances call. Instance tags that CloudFormation would add (aws:cloudformation:*) are not
 * used: they are not always there (emulators leave them out).
 *
 * Why not DescribeAutoScalingGroups → ids → DescribeInstances: it costs a second call per poll, and
 * the group's instance list says nothing about addresses anyway.
 */
export async function groupNodes(ec2: EC2Client, groupName: string): Promise<NodeState[]> {
  const { DescribeInstancesCommand } = sdk.ec2();
  const nodes: NodeState[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: "tag:aws:autoscaling:groupName", Values: [groupName] },
          { Name: "instance-state-name", Values: ["pending", "running"] },
        ],
        NextToken: token,
      }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) nodes.push(nodeOf(instance));
    }
    token = page.NextToken;
  } while (token);
  return sortNodes(nodes);
}

/** DescribeInstances for the given ids, in batches (the API takes many ids per call). */
export async function describeNodes(ec2: EC2Client, ids: string[]): Promise<NodeState[]> {
  const { DescribeInstancesCommand } = sdk.ec2();
  const nodes: NodeState[] = [];
  for (let start = 0; start < ids.length; start += 100) {
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({ InstanceIds: ids.slice(start, start + 100), NextToken: token }),
      );
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) nodes.push(nodeOf(instance));
      }
      token = page.NextToken;
    } while (token);
  }
  return sortNodes(nodes);
}

function nodeOf(instance: Instance): NodeState {
  const tag = (key: string) => instance.Tags?.find((t) => t.Key === key)?.Value;
  const slot = Number(tag("pandacluster:slot"));
  const etcdVersion = tag("pandacluster:etcd-version");
  return {
    ...(Number.isInteger(slot) && slot > 0
      ? { slot, etcd_status: tag("pandacluster:etcd-status") ?? null }
      : {}),
    instance_id: instance.InstanceId ?? "",
    availability_zone: instance.Placement?.AvailabilityZone ?? "",
    public_ip: instance.PublicIpAddress || null,
    private_ip: instance.PrivateIpAddress || null,
    public_dns: instance.PublicDnsName || null,
    private_dns: instance.PrivateDnsName || null,
    state: instance.State?.Name ?? "unknown",
    image_id: instance.ImageId ?? null,
    ...(etcdVersion ? { etcd_version: etcdVersion } : {}),
  };
}

/**
 * A stable order, so that node-1, node-2… name the same machines every time they are listed:
 * by private address (numerically), then by instance id.
 */
export function sortNodes<N extends NodeInfo>(nodes: N[]): N[] {
  return [...nodes].sort((a, b) => {
    const byIp = ipNumber(a.private_ip) - ipNumber(b.private_ip);
    return byIp !== 0 ? byIp : a.instance_id.localeCompare(b.instance_id);
  });
}

function ipNumber(ip: string | null): number {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  return ip.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** NodeInfo without the transient state, as results carry it. */
export function nodeInfo(node: NodeState): NodeInfo {
  const { state: _state, image_id: _image, ...info } = node;
  return info;
}
