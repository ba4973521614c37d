/**
 * The built template, created as a stack in the moto AWS emulator (a real CloudFormation
 * implementation, test/helpers/services.ts): it must be accepted whole, evaluate its intrinsic
 * functions (Fn::Join in UserData, Fn::If/FindInMap for the image, GetAtt GroupId, Fn::GetAZs), and
 * create what the template says. Plain moto, without pandacluster's moto fixes: what plain moto does
 * not show (MapPublicIpOnLaunch, the VPC's DNS attributes, the launch template's groups) is checked
 * on the template itself in shape.test.ts.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  type Parameter,
} from "@aws-sdk/client-cloudformation";
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import YAML from "yaml";
import type { UnitsInput } from "../../src/options.js";
import { validateOptions } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { FEED_BASE_VARIABLE } from "../../src/template/images.js";
import { type Moto, startMoto } from "../helpers/services.js";
import { type FeedServer, fixture, KEYS, startFeedServer } from "./support.js";

const DISCOVERY = "http://127.0.0.1:2379/0123456789abcdef0123456789abcdef";

describe("the template in the moto AWS emulator", () => {
  let moto: Moto | undefined;
  let feed: FeedServer;
  let cfn: CloudFormationClient;
  let ec2: EC2Client;

  before(async () => {
    // Plain moto, as the header says; an emulator that does not start fails these tests (no skip).
    moto = await startMoto({ fixes: false });
    const config = {
      endpoint: moto.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    };
    cfn = new CloudFormationClient(config);
    ec2 = new EC2Client(config);
    feed = await startFeedServer();
  });
  after(async () => {
    await moto?.stop();
    await feed?.close();
  });

  async function createStack(name: string, body: string, parameters: Record<string, string>) {
    const Parameters: Parameter[] = Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
      ParameterKey,
      ParameterValue,
    }));
    await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: body, Parameters }));
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    const resources =
      (await cfn.send(new DescribeStackResourcesCommand({ StackName: name }))).StackResources ?? [];
    const physical = (logical: string) =>
      resources.find((r) => r.LogicalResourceId === logical)?.PhysicalResourceId;
    const instances = (
      await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: "tag:pandacluster:cluster", Values: [name] }] }),
      )
    ).Reservations?.flatMap((r) => r.Instances ?? []);
    return { stack, resources, physical, instances: instances ?? [] };
  }

  /** A group's ingress rules as EC2 lists them, sorted by port; the group is in the VPC. */
  async function groupRules(groupId: string, vpcId: string | undefined) {
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })))
      .SecurityGroups?.[0];
    assert.equal(group?.VpcId, vpcId);
    return (group?.IpPermissions ?? [])
      .map((p) => ({
        ports: `${p.FromPort}-${p.ToPort}`,
        cidrs: (p.IpRanges ?? []).map((r) => r.CidrIp),
        groups: (p.UserIdGroupPairs ?? []).map((g) => g.GroupId).sort(),
      }))
      .sort((a, b) => a.ports.localeCompare(b.ports));
  }

  it("offline template: the stack is created with every resource, outputs, and the nodes", async () => {
    const units = validateOptions("build_template", { units: fixture("units", "nasty.cson") }, "library")
      .units as UnitsInput;
    const built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, provisioning: "cloud-config", units },
      { public_keys: KEYS },
    );
    const { stack, resources, physical, instances } = await createStack("offline", built.body, {
      DiscoveryURL: DISCOVERY,
      PrivateDomain: "t.cluster",
      KeyPair: "mykey",
      ImageId: "ami-0123456789abcdef0",
    });
    assert.equal(stack?.StackStatus, "CREATE_COMPLETE");
    // Every resource but the SSH rules: AllowSSHFrom was not given, so HasSSH is false. (Plain moto
    // also lists each of those as an entry without id or type; pandacluster_moto drops them, as AWS.)
    assert.deepEqual(
      resources
        .map((r) => r.LogicalResourceId)
        .filter((id) => id)
        .sort(),
      Object.keys(built.template.Resources)
        .filter((name) => !name.startsWith("SshTo"))
        .sort(),
    );
    assert.ok(resources.every((r) => r.ResourceStatus === "CREATE_COMPLETE"));
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    assert.match(outputs.VpcId ?? "", /^vpc-/);
    assert.match(outputs.ControllerSecurityGroupId ?? "", /^sg-/);
    assert.match(outputs.WorkerSecurityGroupId ?? "", /^sg-/);
    assert.equal(outputs.AutoScalingGroupName, physical("AutoScalingGroup"));
    assert.equal(outputs.SubnetIds, `${physical("SubnetA")},${physical("SubnetB")}`);

    // Subnets: in the stack's VPC, two different zones.
    const subnets =
      (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: outputs.SubnetIds?.split(",") }))).Subnets ??
      [];
    assert.equal(subnets.length, 2);
    assert.ok(subnets.every((s) => s.VpcId === outputs.VpcId));
    assert.equal(new Set(subnets.map((s) => s.AvailabilityZone)).size, 2);

    // Security groups, read back from EC2: nothing from the internet (SSH closed by default), etcd's
    // client port on controllers from both groups, its peer port from controllers only, by group id.
    const controllers = outputs.ControllerSecurityGroupId as string;
    const workers = outputs.WorkerSecurityGroupId as string;
    assert.deepEqual(await groupRules(controllers, outputs.VpcId), [
      { ports: "2379-2379", cidrs: [], groups: [controllers, workers].sort() },
      { ports: "2380-2380", cidrs: [], groups: [controllers] },
    ]);
    assert.deepEqual(await groupRules(workers, outputs.VpcId), []);

    // Launch template: IMDSv2, the key, the image, and user data as CloudFormation evaluated it.
    const version = (
      await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: physical("LaunchTemplate"),
          Versions: ["$Latest"],
        }),
      )
    ).LaunchTemplateVersions?.[0]?.LaunchTemplateData;
    assert.deepEqual(version?.MetadataOptions, {
      HttpTokens: "required",
      HttpEndpoint: "enabled",
      HttpPutResponseHopLimit: 2,
    });
    assert.equal(version?.KeyName, "mykey");
    assert.equal(version?.ImageId, "ami-0123456789abcdef0");
    assert.deepEqual(version?.BlockDeviceMappings, [
      {
        DeviceName: "/dev/xvda",
        Ebs: { VolumeType: "gp3", VolumeSize: 30, Encrypted: true, DeleteOnTermination: true },
      },
    ]);
    const raw = version?.UserData ?? "";
    // moto keeps Fn::Base64's input as it is; AWS would hold the base64 text.
    const text = raw.startsWith("#cloud-config") ? raw : Buffer.from(raw, "base64").toString("utf8");
    const config = YAML.parse(text) as {
      ssh_authorized_keys: string[];
      coreos: { units: { name: string; content?: string; drop_ins?: { content: string }[] }[] };
    };
    assert.deepEqual(config.ssh_authorized_keys, KEYS);
    const nasty = config.coreos.units.find((u) => u.name === "nasty.service");
    assert.equal(nasty?.content, readFileSync(fixture("units", "nasty.service"), "utf8"));
    const etcd = config.coreos.units.find((u) => u.name === "etcd-member.service");
    assert.ok(etcd?.drop_ins?.[0]?.content.includes(`Environment="ETCD_DISCOVERY=${DISCOVERY}"\n`));

    // The nodes: ClusterSize (3 by default) instances, tagged by the group; no workers by default.
    assert.equal(instances.length, 3);
    for (const instance of instances) {
      const tags = Object.fromEntries((instance.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
      assert.equal(tags.Name, "offline");
      assert.equal(tags["pandacluster:cluster"], "offline");
      assert.equal(instance.ImageId, "ami-0123456789abcdef0");
      assert.ok(subnets.some((s) => s.SubnetId === instance.SubnetId));
    }
  });

  it("workers: a second group of Workers instances from their own launch template, with no etcd member and etcd.<zone> as their endpoint (cloud-config; both formats: workers.test.ts)", async () => {
    const built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, provisioning: "cloud-config" },
      { public_keys: KEYS },
    );
    const { stack, physical, instances } = await createStack("withworkers", built.body, {
      DiscoveryURL: DISCOVERY,
      PrivateDomain: "ww.cluster",
      KeyPair: "mykey",
      ImageId: "ami-0123456789abcdef0",
      Workers: "2",
      AllowSSHFrom: "198.51.100.0/24",
      VolumeSize: "50",
    });
    assert.equal(stack?.StackStatus, "CREATE_COMPLETE");
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    assert.equal(outputs.WorkerGroupName, physical("WorkerGroup"));
    const roles = instances.map(
      (i) => (i.Tags ?? []).find((tag) => tag.Key === "pandacluster:role")?.Value ?? "none",
    );
    assert.deepEqual(roles.sort(), ["controller", "controller", "controller", "worker", "worker"]);
    // SSH open to AllowSSHFrom on both groups, nothing else on workers. (Plain moto does not put group
    // instances in their launch template's groups: test/cli/secure.test.ts checks that, on fixed moto.)
    const controllers = outputs.ControllerSecurityGroupId as string;
    const workers = outputs.WorkerSecurityGroupId as string;
    const ssh = { ports: "22-22", cidrs: ["198.51.100.0/24"], groups: [] };
    assert.deepEqual(await groupRules(workers, outputs.VpcId), [ssh]);
    assert.deepEqual(await groupRules(controllers, outputs.VpcId), [
      ssh,
      { ports: "2379-2379", cidrs: [], groups: [controllers, workers].sort() },
      { ports: "2380-2380", cidrs: [], groups: [controllers] },
    ]);
    const version = (
      await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: physical("WorkerLaunchTemplate"),
          Versions: ["$Latest"],
        }),
      )
    ).LaunchTemplateVersions?.[0]?.LaunchTemplateData;
    assert.equal(version?.MetadataOptions?.HttpTokens, "required");
    assert.deepEqual(version?.BlockDeviceMappings?.[0]?.Ebs, {
      VolumeType: "gp3",
      VolumeSize: 50,
      Encrypted: true,
      DeleteOnTermination: true,
    });
    const raw = version?.UserData ?? "";
    const text = raw.startsWith("#cloud-config") ? raw : Buffer.from(raw, "base64").toString("utf8");
    const config = YAML.parse(text) as {
      ssh_authorized_keys: string[];
      coreos: { units: { name: string; content?: string }[] };
    };
    assert.deepEqual(config.ssh_authorized_keys, KEYS);
    const names = config.coreos.units.map((u) => u.name);
    assert.ok(!names.includes("etcd-member.service"), names.join(","));
    assert.ok(names.includes("var-lib-docker.mount"), "the user's units too");
    const endpoints = config.coreos.units.find((u) => u.name === "pandacluster-etcd-endpoints.service");
    assert.match(
      endpoints?.content ?? "",
      /echo ETCDCTL_ENDPOINTS=http:\/\/etcd\.ww\.cluster:2379 >> \/etc\/environment/,
    );
  });

  it("template with the feed's map: the region's image unless ImageId is given; ClusterSize sizes the group", async () => {
    process.env[FEED_BASE_VARIABLE] = feed.base;
    try {
      const built = await buildTemplate({ channel: "stable", arch: "amd64", offline: false }, {});
      assert.equal(built.image_map.source, "feed");
      const fromMap = await createStack("mapped", built.body, {
        DiscoveryURL: DISCOVERY,
        PrivateDomain: "t.cluster",
        KeyPair: "k",
        ClusterSize: "4",
      });
      assert.equal(fromMap.stack?.StackStatus, "CREATE_COMPLETE");
      assert.equal(fromMap.instances.length, 4);
      for (const instance of fromMap.instances) assert.equal(instance.ImageId, "ami-0a1b2c3d4e5f60001");

      const given = await createStack("given", built.body, {
        DiscoveryURL: DISCOVERY,
        PrivateDomain: "t.cluster",
        KeyPair: "k",
        ImageId: "ami-0fedcba9876543210",
      });
      assert.equal(given.instances.length, 3);
      for (const instance of given.instances) assert.equal(instance.ImageId, "ami-0fedcba9876543210");
    } finally {
      delete process.env[FEED_BASE_VARIABLE];
    }
  });
});
