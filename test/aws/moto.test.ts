/**
 * The AWS modules against the moto emulator (plain moto, with the Flatcar-like image fixture):
 * image lookup, key pair check, Route 53 zones and records, group instances.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { AutoScalingClient, CreateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  ImportKeyPairCommand,
} from "@aws-sdk/client-ec2";
import { CreateHostedZoneCommand, GetHostedZoneCommand } from "@aws-sdk/client-route-53";
import { type AwsClients, awsClients } from "../../src/aws/clients.js";
import {
  createPrivateZone,
  deleteZone,
  findClusterZones,
  findPublicZone,
  listRecords,
  upsertRecords,
} from "../../src/aws/dns.js";
import { newestFlatcarImage } from "../../src/aws/images.js";
import { checkKeyPair } from "../../src/aws/keys.js";
import { groupNodes } from "../../src/aws/nodes.js";
import { UsageError } from "../../src/errors.js";
import { awsEnv, flatcarAmis, flatcarAmisFixture, type Moto, startMoto } from "../helpers/services.js";

let moto: Moto;
const saved = { ...process.env };
let clients: AwsClients;

before(async () => {
  // Plain moto, as the header says: these calls need none of pandacluster_moto's fixes.
  moto = await startMoto({ amisPath: flatcarAmisFixture(), fixes: false });
  Object.assign(process.env, awsEnv(moto.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
});
after(async () => {
  await moto?.stop();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
beforeEach(async () => {
  await moto.reset();
  // A fresh credentials object each time: new clients (the cache is per credentials object).
  clients = awsClients({}, { region: "us-east-1" });
});

/** The newest image of a channel and EC2 architecture in the fixture, owned by Flatcar. */
function expectedNewest(channel: string, architecture: string) {
  return flatcarAmis()
    .filter((i) => i.owner_id === "075585003325" && i.architecture === architecture)
    .filter((i) => i.name.startsWith(`Flatcar-${channel}-`))
    .sort((a, b) => b.creation_date.localeCompare(a.creation_date))[0];
}

describe("newestFlatcarImage (DescribeImages)", () => {
  for (const [channel, arch, ec2Arch] of [
    ["stable", "amd64", "x86_64"],
    ["stable", "arm64", "arm64"],
    ["beta", "amd64", "x86_64"],
    ["lts", "arm64", "arm64"],
  ] as const) {
    it(`finds the newest ${channel} ${arch} image of Flatcar's account, not the decoy`, async () => {
      const found = await newestFlatcarImage(clients.ec2, channel, arch);
      const expected = expectedNewest(channel, ec2Arch);
      assert.ok(expected, "the fixture has one");
      assert.equal(found?.image_id, expected.ami_id);
      assert.equal(found?.name, expected.name);
      assert.notEqual(found?.name, "Flatcar-stable-9999.0.0-hvm");
    });
  }
});

describe("checkKeyPair (DescribeKeyPairs)", () => {
  it("finds a key pair that exists", async () => {
    await clients.ec2.send(
      new ImportKeyPairCommand({
        KeyName: "mine",
        PublicKeyMaterial: Buffer.from(
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x t",
        ),
      }),
    );
    assert.equal((await checkKeyPair(clients.ec2, "mine", "us-east-1")).key_name, "mine");
  });

  it("says which key pairs do exist when the one named does not", async () => {
    for (const name of ["beta-key", "alpha-key"]) {
      await clients.ec2.send(
        new ImportKeyPairCommand({
          KeyName: name,
          PublicKeyMaterial: Buffer.from(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5Nq2Rj3ZV8uFv5tAqZ6uC1xV2sQe6r3gqkYb7sYH2x t",
          ),
        }),
      );
    }
    await assert.rejects(checkKeyPair(clients.ec2, "nope", "us-east-1"), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(
        error.message,
        /no EC2 key pair named "nope" in us-east-1 \(the key pairs there are: alpha-key, beta-key\)/,
      );
      return true;
    });
  });
});

describe("Route 53 zones and records", () => {
  it("creates a marked private zone, finds it by cluster and region only, names nodes, deletes it", async () => {
    const vpc = (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc?.VpcId ?? "";
    const zone = await createPrivateZone(clients.route53, {
      name: "demo.cluster",
      vpc_id: vpc,
      region: "us-east-1",
      stack_name: "demo",
      stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1111",
    });
    await createPrivateZone(clients.route53, {
      name: "other.cluster",
      vpc_id: vpc,
      region: "us-east-1",
      stack_name: "other",
      stack_id: "s/other/2",
    });
    await createPrivateZone(clients.route53, {
      name: "demo.cluster",
      vpc_id: vpc,
      region: "eu-west-1",
      stack_name: "demo",
      stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1111",
    });

    const found = await findClusterZones(clients.route53, "demo", "us-east-1");
    assert.deepEqual(
      found.map((z) => z.id),
      [zone.id],
    );
    const described = await clients.route53.send(new GetHostedZoneCommand({ Id: zone.id }));
    assert.equal(described.HostedZone?.Config?.PrivateZone, true);
    assert.equal(described.VPCs?.[0]?.VPCId, vpc);

    await upsertRecords(clients.route53, zone.id, [
      { name: "node-1.demo.cluster", type: "A", values: ["10.0.0.4"] },
      { name: "etcd.demo.cluster", type: "A", values: ["10.0.0.4", "10.0.0.5"] },
    ]);
    const records = await listRecords(clients.route53, zone.id);
    assert.deepEqual(records.map((r) => [r.name, r.values.sort()]).sort(), [
      ["etcd.demo.cluster", ["10.0.0.4", "10.0.0.5"]],
      ["node-1.demo.cluster", ["10.0.0.4"]],
    ]);

    await deleteZone(clients.route53, zone);
    assert.deepEqual(await findClusterZones(clients.route53, "demo", "us-east-1"), []);
    assert.equal(
      (await findClusterZones(clients.route53, "demo", "eu-west-1")).length,
      1,
      "the other region's stays",
    );
  });

  it("finds a public zone by name, not a private zone of the same name", async () => {
    const vpc = (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc?.VpcId ?? "";
    await createPrivateZone(clients.route53, {
      name: "example.com",
      vpc_id: vpc,
      region: "us-east-1",
      stack_name: "x",
      stack_id: "s/x/4",
    });
    assert.equal(await findPublicZone(clients.route53, "example.com"), undefined);
    await clients.route53.send(
      new CreateHostedZoneCommand({ Name: "example.com", CallerReference: "public-1" }),
    );
    const zone = await findPublicZone(clients.route53, "example.com");
    assert.equal(zone?.name, "example.com");
    assert.equal(zone?.private, false);
  });
});

describe("groupNodes", () => {
  it("finds an Auto Scaling group's instances by the group's own tag, with their addresses", async () => {
    const vpc = (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc?.VpcId ?? "";
    const subnet = await clients.ec2.send(
      new CreateSubnetCommand({ VpcId: vpc, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a" }),
    );
    const template = await clients.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "lt",
        LaunchTemplateData: { ImageId: "ami-84380cf42e2ae29d6", InstanceType: "t3.small" },
      }),
    );
    const autoscaling = new AutoScalingClient({ region: "us-east-1" });
    for (const name of ["group-a", "group-b"]) {
      await autoscaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          LaunchTemplate: {
            LaunchTemplateId: template.LaunchTemplate?.LaunchTemplateId ?? "",
            Version: "$Latest",
          },
          MinSize: name === "group-a" ? 3 : 1,
          MaxSize: 3,
          DesiredCapacity: name === "group-a" ? 3 : 1,
          VPCZoneIdentifier: subnet.Subnet?.SubnetId ?? "",
        }),
      );
    }
    const nodes = await groupNodes(clients.ec2, "group-a");
    assert.equal(nodes.length, 3);
    for (const node of nodes) {
      assert.match(node.instance_id, /^i-/);
      assert.equal(node.state, "running");
      assert.match(node.private_ip ?? "", /^10\.0\.1\.\d+$/);
      assert.equal(node.availability_zone, "us-east-1a");
    }
    const ips = nodes.map((n) => Number(n.private_ip?.split(".")[3]));
    assert.deepEqual(
      ips,
      [...ips].sort((a, b) => a - b),
      "in address order",
    );
  });
});
