/**
 * pandacluster_moto's fixes shown needed: what scripts/test-services/README.md lists as broken in
 * plain moto fails on plain moto and works with the fixes (the default of startMoto), so the tests
 * that rely on the fixes test the product, not a kindness of the emulator.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { flatcarAmisFixture, type Moto, startMoto } from "../helpers/services.js";

let plain: Moto;
let fixed: Moto;

before(async () => {
  [plain, fixed] = await Promise.all([
    startMoto({ amisPath: flatcarAmisFixture(), fixes: false }),
    startMoto({ amisPath: flatcarAmisFixture() }),
  ]);
});
after(async () => {
  await Promise.all([plain?.stop(), fixed?.stop()]);
});

/** An Auto Scaling group of one instance in a new VPC, made with the SDK v3 clients. */
async function groupIn(moto: Moto): Promise<AutoScalingClient> {
  const config = {
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  const ec2 = new EC2Client(config);
  const autoscaling = new AutoScalingClient(config);
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc?.VpcId;
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpc, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a" }),
  );
  const template = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "lt",
      LaunchTemplateData: { ImageId: "ami-84380cf42e2ae29d6", InstanceType: "t3.small" },
    }),
  );
  await autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: "group",
      LaunchTemplate: { LaunchTemplateId: template.LaunchTemplate?.LaunchTemplateId, Version: "$Latest" },
      MinSize: 1,
      MaxSize: 1,
      DesiredCapacity: 1,
      VPCZoneIdentifier: subnet.Subnet?.SubnetId,
    }),
  );
  ec2.destroy();
  return autoscaling;
}

describe("pandacluster_moto's fixes, each failing without them", () => {
  it("DescribeAutoScalingGroups: the SDK v3 cannot parse plain moto's answer (CreatedTime without a zone); it can with the fixes", async () => {
    const onPlain = await groupIn(plain);
    await assert.rejects(
      onPlain.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["group"] })),
      /Invalid RFC3339 timestamp/,
    );
    onPlain.destroy();
    const onFixed = await groupIn(fixed);
    const groups = await onFixed.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["group"] }),
    );
    assert.equal(groups.AutoScalingGroups?.[0]?.Instances?.length, 1);
    assert.ok(groups.AutoScalingGroups?.[0]?.CreatedTime instanceof Date);
    onFixed.destroy();
  });
});
