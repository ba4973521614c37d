import type { Tag } from "@aws-sdk/client-cloudformation";
import { outputOf, parameterOf, type Stack, tagOf } from "../aws/stacks.js";
import { packageVersion } from "../paths.js";

/**
 * The stack's tags carry everything later commands need that its parameters do not: status, list,
 * wait, finish and destroy all recover a cluster from its stack alone, even after a crash.
 */
export const TAG = {
  cluster: "pandacluster:cluster",
  version: "pandacluster:version",
  channel: "pandacluster:channel",
  arch: "pandacluster:arch",
  privateDomain: "pandacluster:private-domain",
  publicDomain: "pandacluster:public-domain",
  /**
   * The ClientRequestToken of the CreateStack that made the stack: whoever knows it (the server's
   * job that sent it) can tell its own stack from another of the same name.
   */
  createToken: "pandacluster:create-token",
} as const;

/** The private zone a cluster gets when none is named. */
export function defaultPrivateDomain(stackName: string): string {
  return `${stackName.toLowerCase()}.cluster`;
}

export function clusterTags(cluster: {
  stack_name: string;
  channel: string;
  arch: string;
  private_domain: string;
  public_domain?: string;
  create_token?: string;
}): Tag[] {
  const tags: Tag[] = [
    { Key: TAG.cluster, Value: cluster.stack_name },
    { Key: TAG.version, Value: packageVersion() },
    { Key: TAG.channel, Value: cluster.channel },
    { Key: TAG.arch, Value: cluster.arch },
    { Key: TAG.privateDomain, Value: cluster.private_domain },
  ];
  if (cluster.public_domain) tags.push({ Key: TAG.publicDomain, Value: cluster.public_domain });
  if (cluster.create_token) tags.push({ Key: TAG.createToken, Value: cluster.create_token });
  return tags;
}

/** What a cluster is, read back from its stack's parameters and tags. */
export interface ClusterFacts {
  stack_name: string;
  stack_id: string;
  channel: string | null;
  arch: string | null;
  instance_type: string | null;
  cluster_size: number | null;
  /** The Workers parameter; 0 for a stack without one (made before workers existed). */
  workers: number;
  image_id: string | null;
  discovery_url: string | null;
  private_domain: string;
  public_domain: string | null;
  created_at: string | null;
  /** Made by this tool (has the pandacluster:cluster tag). */
  ours: boolean;
  /** The AllowSSHFrom parameter: who may reach port 22; null when SSH is closed (empty or absent). */
  allow_ssh_from?: string | null;
}

export function clusterFacts(stack: Stack): ClusterFacts {
  const name = stack.StackName ?? "";
  const size = Number(parameterOf(stack, "ClusterSize"));
  return {
    stack_name: name,
    stack_id: stack.StackId ?? "",
    channel: tagOf(stack, TAG.channel) ?? null,
    arch: tagOf(stack, TAG.arch) ?? null,
    instance_type: parameterOf(stack, "InstanceType") ?? null,
    cluster_size: Number.isInteger(size) && size > 0 ? size : null,
    workers: workersOf(stack),
    image_id: parameterOf(stack, "ImageId") || null,
    discovery_url: parameterOf(stack, "DiscoveryURL") ?? null,
    private_domain: tagOf(stack, TAG.privateDomain) ?? defaultPrivateDomain(name),
    public_domain: tagOf(stack, TAG.publicDomain) ?? null,
    created_at: stack.CreationTime?.toISOString() ?? null,
    ours: tagOf(stack, TAG.cluster) !== undefined,
    allow_ssh_from: parameterOf(stack, "AllowSSHFrom") || null,
  };
}

function workersOf(stack: Stack): number {
  const workers = Number(parameterOf(stack, "Workers"));
  return Number.isInteger(workers) && workers >= 0 ? workers : 0;
}

/** The stack output naming the controllers' Auto Scaling group, and the VPC's. */
export function groupOutput(stack: Stack): string | undefined {
  return outputOf(stack, "AutoScalingGroupName");
}

/** The stack output naming the workers' Auto Scaling group (none in stacks made before workers). */
export function workerGroupOutput(stack: Stack): string | undefined {
  return outputOf(stack, "WorkerGroupName");
}

export function vpcOutput(stack: Stack): string | undefined {
  return outputOf(stack, "VpcId");
}
