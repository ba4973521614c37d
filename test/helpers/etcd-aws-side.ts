/**
 * The AWS side of the real-etcd harness: the generated template created as a stack in moto (the
 * slots' groups, volumes, records, private zone, role), each slot's instance read back from it, the
 * VPC resolver stand-in answering from the stack's private zone, and the harness's EBS volumes (a
 * folder per volume id, for the volume shims). What a node learns from IMDS (instance id, zone,
 * tags, the role) is what moto holds for its instance.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackResourcesCommand,
  type Tag,
} from "@aws-sdk/client-cloudformation";
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import type { InstanceFacts } from "./flatcar/imds-mock.js";
import { startVpcResolver, type VpcResolver } from "./flatcar/vpc-resolver.js";
import { flatcarAmisFixture, type Moto, startMoto } from "./services.js";

export const STACK = "harness";
export const DOMAIN = "harness.internal";
const REGION = "us-east-1";

/** What the harness knows of an instance before it boots (its address is the harness's). */
export type SlotFacts = Omit<InstanceFacts, "privateIp">;

/** Facts for the discovery mode's nodes, which have no AWS side. */
export function syntheticFacts(slot: number): SlotFacts {
  return {
    instanceId: `i-${(0x5107 + slot).toString(16).padStart(17, "0")}`,
    availabilityZone: `${REGION}${"abc"[(slot - 1) % 3]}`,
    region: REGION,
    tags: { "pandacluster:role": "controller" },
  };
}

export interface AwsSide {
  moto: Moto;
  resolver: VpcResolver;
  resolvConfPath: string;
  volumes: string;
  resources: Record<string, string>;
  slotInstance(slot: number): Promise<SlotFacts>;
  /** What moto says of an instance now (its id, zone, tags), as the node learns it from IMDS. */
  facts(instanceId: string): Promise<SlotFacts>;
  /** Slot i's group's live instances (Pending or InService), as Auto Scaling lists them. */
  slotInstances(slot: number): Promise<string[]>;
  /**
   * What an instance boots: its user data as EC2 holds it (DescribeInstanceAttribute userData, what
   * IMDS hands Ignition: the launch template version it was launched from) and its image.
   */
  bootData(instanceId: string): Promise<{ userData: string; imageId: string }>;
  terminateAndReplace(slot: number, instanceId: string): Promise<SlotFacts>;
  close(): Promise<void>;
}

export async function startAwsSide(
  dir: string,
  body: string,
  size: number,
  taken: Set<string>,
  stackTags: Tag[] = [],
): Promise<AwsSide> {
  const moto = await startMoto({ amisPath: flatcarAmisFixture(), fixes: true });
  const config = {
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  const cfn = new CloudFormationClient(config);
  const asg = new AutoScalingClient(config);
  const ec2 = new EC2Client(config);
  const closeClients = () => {
    for (const c of [cfn, asg, ec2]) c.destroy();
  };
  try {
    await cfn.send(
      new CreateStackCommand({
        StackName: STACK,
        TemplateBody: body,
        Capabilities: ["CAPABILITY_IAM"],
        ...(stackTags.length > 0 ? { Tags: stackTags } : {}),
        Parameters: [
          { ParameterKey: "ImageId", ParameterValue: "ami-0123456789abcdef0" },
          { ParameterKey: "KeyPair", ParameterValue: "k1" },
          { ParameterKey: "PrivateDomain", ParameterValue: DOMAIN },
          { ParameterKey: "ClusterSize", ParameterValue: String(size) },
        ],
      }),
    );
    const described = await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }));
    const resources = Object.fromEntries(
      (described.StackResources ?? []).map((r) => [
        r.LogicalResourceId as string,
        r.PhysicalResourceId as string,
      ]),
    );
    const zoneId = resources.PrivateZone;
    const role = resources.ControllerRole;
    if (!zoneId || !role) throw new Error("harness: the stack has no PrivateZone or ControllerRole");
    const resolver = await startResolver(moto.endpoint, zoneId, taken);
    const resolvConfPath = join(dir, "resolv.conf");
    writeFileSync(resolvConfPath, resolver.resolvConf);
    const volumes = join(dir, "volumes");
    mkdirSync(volumes, { recursive: true });

    const facts = async (instanceId: string): Promise<SlotFacts> => {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const instance = out.Reservations?.[0]?.Instances?.[0];
      if (!instance) throw new Error(`harness: moto has no instance ${instanceId}`);
      return {
        instanceId,
        availabilityZone: instance.Placement?.AvailabilityZone ?? `${REGION}a`,
        region: REGION,
        tags: Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key as string, t.Value as string])),
        role: {
          name: role,
          accessKeyId: "ASIAHARNESS",
          secretAccessKey: "harness-secret",
          token: "harness-token",
        },
      };
    };
    const groupInstances = async (slot: number): Promise<string[]> => {
      const name = resources[`ControllerGroup${slot}`];
      if (!name) throw new Error(`harness: the stack has no ControllerGroup${slot}`);
      const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
      return (out.AutoScalingGroups?.[0]?.Instances ?? [])
        .filter((i) => i.LifecycleState === "InService" || i.LifecycleState === "Pending")
        .map((i) => i.InstanceId as string);
    };
    return {
      moto,
      resolver,
      resolvConfPath,
      volumes,
      resources,
      facts,
      slotInstances: groupInstances,
      async bootData(instanceId) {
        const attribute = await ec2.send(
          new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: "userData" }),
        );
        const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const imageId = out.Reservations?.[0]?.Instances?.[0]?.ImageId;
        const userData = attribute.UserData?.Value;
        if (!userData || !imageId)
          throw new Error(`harness: moto has no user data or image for ${instanceId}`);
        return { userData, imageId };
      },
      async slotInstance(slot) {
        const [id] = await groupInstances(slot);
        if (!id) throw new Error(`harness: slot ${slot}'s group has no instance`);
        return facts(id);
      },
      async terminateAndReplace(slot, instanceId) {
        await asg.send(
          new TerminateInstanceInAutoScalingGroupCommand({
            InstanceId: instanceId,
            ShouldDecrementDesiredCapacity: false,
          }),
        );
        const [id] = (await groupInstances(slot)).filter((i) => i !== instanceId);
        if (!id) throw new Error(`harness: slot ${slot}'s group launched no replacement for ${instanceId}`);
        return facts(id);
      },
      async close() {
        closeClients();
        await resolver.close();
        await moto.stop();
      },
    };
  } catch (error) {
    closeClients();
    await moto.stop();
    throw error;
  }
}

/** The resolver on a free loopback address (port 53 is taken on some, by other harnesses). */
async function startResolver(endpoint: string, zoneId: string, taken: Set<string>): Promise<VpcResolver> {
  let last: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const ip = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;
    if (taken.has(ip)) continue;
    try {
      const resolver = await startVpcResolver(ip, endpoint, zoneId, DOMAIN);
      taken.add(ip);
      return resolver;
    } catch (error) {
      last = error;
    }
  }
  throw new Error(`harness: no loopback address with port 53 free for the VPC resolver: ${String(last)}`);
}
