import { MAX_ZONES, subnets } from "../network.js";
import { type CfnResource, type CfnValue, clusterTags, getAtt, ref, type TemplatePart } from "../types.js";

/**
 * Static controllers (doc/etcd.md): one slot per etcd member. Slot i (1-based) has
 *   ControllerGroup{i}   an Auto Scaling group of exactly one instance, in the subnet of zone
 *                        (i-1) mod Z (3 zones: 1+1+1; 5 members: 2+2+1), launched from the one
 *                        controller launch template; its tags (propagated to the instance, read
 *                        from the instance metadata) tell the node its slot;
 *   EtcdVolume{i}        an encrypted gp3 EBS volume in that zone, kept when instances go: the
 *                        member's data (the node attaches and mounts it at boot);
 *   EtcdRecord{i}        etcd-{i}.<zone>: a weighted A record with a placeholder address, made
 *                        before any instance boots, so that no resolver caches an NXDOMAIN for a
 *                        peer's name (the VPC resolver keeps one for the zone's SOA TTL). The node
 *                        adds its own weighted record (set "instance", weight 1), which wins
 *                        over this one (weight 0); CloudFormation's record is never changed by
 *                        anyone, so deleting it never fails on values that no longer match.
 * and the cluster has the private hosted zone itself (PrivateZone) and the controllers' IAM role.
 *
 * Each group waits (CreationPolicy) for one SUCCESS signal from its node: sent only when its member
 * is healthy in a cluster of N (pandacluster-etcd.sh `ready`); FAILURE carries the node's reason in
 * its instance tag pandacluster:etcd-status.
 */

/** The tags a slot's group carries (propagated to its instance, read at boot). */
export const SLOT_TAG = "pandacluster:slot";
export const SLOT_TAGS = {
  slot: SLOT_TAG,
  size: "pandacluster:size",
  volume: "pandacluster:volume",
  zoneId: "pandacluster:zone-id",
  domain: "pandacluster:domain",
  signal: "pandacluster:signal",
} as const;
/** The tag the node puts on its instance: what its member is doing or waiting for. */
export const ETCD_STATUS_TAG = "pandacluster:etcd-status";

/** The address of a slot's record before its node has published its own (TEST-NET-3, RFC 5737). */
export const PLACEHOLDER_ADDRESS = "203.0.113.123";
/** Seconds a resolver keeps a slot's address: a replaced controller's new address is seen quickly. */
export const SLOT_RECORD_TTL = 30;
/** The record set identifiers: CloudFormation's placeholder and the node's own record. */
export const PLACEHOLDER_SET = "placeholder";
export const INSTANCE_SET = "instance";

export const groupId = (slot: number) => `ControllerGroup${slot}`;
export const volumeId = (slot: number) => `EtcdVolume${slot}`;
export const recordId = (slot: number) => `EtcdRecord${slot}`;
export const PRIVATE_ZONE = "PrivateZone";
export const CONTROLLER_ROLE = "ControllerRole";
export const CONTROLLER_PROFILE = "ControllerInstanceProfile";
export const CONTROLLER_LAUNCH_TEMPLATE = "LaunchTemplate";

/** Size of each slot's data volume (GiB): etcd's default quota is 2 GiB; gp3's baseline IOPS suffice. */
export const VOLUME_GIB = 10;
/** How long CloudFormation waits for a slot's signal. */
export const SIGNAL_TIMEOUT = "PT20M";

/** The subnet (zone index) of slot i with Z zones. */
export function slotZone(slot: number, zones: number): number {
  return (slot - 1) % zones;
}

/** The peer and client names of the slots: etcd-{i}.<domain>. */
export function slotName(slot: number, domain: string): string {
  return `etcd-${slot}.${domain}`;
}

const domainJoin = (prefix: string): CfnValue => ({ "Fn::Join": ["", [prefix, ref("PrivateDomain")]] });

export function privateZone(): TemplatePart {
  return {
    resources: {
      [PRIVATE_ZONE]: {
        Type: "AWS::Route53::HostedZone",
        Properties: {
          Name: ref("PrivateDomain"),
          HostedZoneConfig: { Comment: { "Fn::Join": ["", ["pandacluster ", ref("AWS::StackName")]] } },
          VPCs: [{ VPCId: ref("VPC"), VPCRegion: ref("AWS::Region") }],
          HostedZoneTags: clusterTags(),
        },
      },
    },
  };
}

/** The slots' volumes, records and groups. */
export function slots(size: number, zones: number = MAX_ZONES): TemplatePart {
  const resources: Record<string, CfnResource> = {};
  const nets = subnets(zones);
  for (let slot = 1; slot <= size; slot++) {
    const subnet = nets[slotZone(slot, nets.length)] as (typeof nets)[number];
    resources[volumeId(slot)] = {
      Type: "AWS::EC2::Volume",
      // The member's data outlives the stack's instances, not the stack: deleted with it.
      Properties: {
        AvailabilityZone: getAtt(subnet.name, "AvailabilityZone"),
        Size: VOLUME_GIB,
        VolumeType: "gp3",
        Encrypted: true,
        Tags: [...clusterTags(`-etcd-${slot}`), { Key: SLOT_TAG, Value: String(slot) }],
      },
    };
    resources[recordId(slot)] = {
      Type: "AWS::Route53::RecordSet",
      Properties: {
        HostedZoneId: ref(PRIVATE_ZONE),
        Name: domainJoin(`etcd-${slot}.`),
        Type: "A",
        TTL: String(SLOT_RECORD_TTL),
        SetIdentifier: PLACEHOLDER_SET,
        Weight: 0,
        ResourceRecords: [PLACEHOLDER_ADDRESS],
      },
    };
    const tags: CfnValue[] = [
      ...clusterTags(),
      { Key: "pandacluster:role", Value: "controller" },
      { Key: SLOT_TAGS.slot, Value: String(slot) },
      { Key: SLOT_TAGS.size, Value: ref("ClusterSize") },
      { Key: SLOT_TAGS.volume, Value: ref(volumeId(slot)) },
      { Key: SLOT_TAGS.zoneId, Value: ref(PRIVATE_ZONE) },
      { Key: SLOT_TAGS.domain, Value: ref("PrivateDomain") },
      { Key: SLOT_TAGS.signal, Value: groupId(slot) },
    ];
    resources[groupId(slot)] = {
      Type: "AWS::AutoScaling::AutoScalingGroup",
      // The records first: the node's peers' names must exist before it looks them up.
      DependsOn: ["PublicRoute", `${subnet.name}RouteTableAssociation`, ...allRecords(size)],
      CreationPolicy: { ResourceSignal: { Count: 1, Timeout: SIGNAL_TIMEOUT } },
      Properties: {
        LaunchTemplate: {
          LaunchTemplateId: ref(CONTROLLER_LAUNCH_TEMPLATE),
          Version: getAtt(CONTROLLER_LAUNCH_TEMPLATE, "LatestVersionNumber"),
        },
        MinSize: "1",
        MaxSize: "1",
        DesiredCapacity: "1",
        VPCZoneIdentifier: [ref(subnet.name)],
        // A slot is one zone: AZRebalance has nothing to move; EC2 health checks replace a dead node.
        HealthCheckType: "EC2",
        Tags: tags.map((tag) => ({ ...(tag as object), PropagateAtLaunch: true })),
      },
    };
  }
  return { resources };
}

const allRecords = (size: number) => Array.from({ length: size }, (_, i) => recordId(i + 1));

/**
 * The controllers' IAM role, least privilege: attach this stack's slot volumes (to instances of this
 * cluster), describe volumes (EC2 has no resource-level permission for it), tag its own instance with
 * its etcd status, change and read records of the cluster's zone, and signal this stack.
 */
export function controllerRole(size: number): TemplatePart {
  const arn = (service: string, resource: string): CfnValue => ({
    "Fn::Sub": `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
  });
  const ofCluster = { StringEquals: { "aws:ResourceTag/pandacluster:cluster": ref("AWS::StackName") } };
  const volumes = Array.from({ length: size }, (_, i) => ({
    "Fn::Sub": `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:volume/\${${volumeId(i + 1)}}`,
  }));
  const zoneArn = { "Fn::Sub": `arn:\${AWS::Partition}:route53:::hostedzone/\${${PRIVATE_ZONE}}` };
  return {
    resources: {
      [CONTROLLER_ROLE]: {
        Type: "AWS::IAM::Role",
        Properties: {
          AssumeRolePolicyDocument: {
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
            ],
          },
          Policies: [
            {
              PolicyName: "pandacluster-etcd-slot",
              PolicyDocument: {
                Version: "2012-10-17",
                Statement: [
                  { Effect: "Allow", Action: "ec2:AttachVolume", Resource: volumes },
                  {
                    Effect: "Allow",
                    Action: "ec2:AttachVolume",
                    Resource: arn("ec2", "instance/*"),
                    Condition: ofCluster,
                  },
                  { Effect: "Allow", Action: "ec2:DescribeVolumes", Resource: "*" },
                  {
                    Effect: "Allow",
                    Action: "ec2:CreateTags",
                    Resource: arn("ec2", "instance/*"),
                    Condition: {
                      ...ofCluster,
                      "ForAllValues:StringEquals": { "aws:TagKeys": [ETCD_STATUS_TAG] },
                    },
                  },
                  {
                    Effect: "Allow",
                    Action: ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
                    Resource: zoneArn,
                  },
                  { Effect: "Allow", Action: "route53:GetChange", Resource: "arn:aws:route53:::change/*" },
                  { Effect: "Allow", Action: "cloudformation:SignalResource", Resource: ref("AWS::StackId") },
                ],
              },
            },
          ],
          Tags: clusterTags(),
        },
      },
      [CONTROLLER_PROFILE]: {
        Type: "AWS::IAM::InstanceProfile",
        Properties: { Roles: [ref(CONTROLLER_ROLE)] },
      },
    },
  };
}
