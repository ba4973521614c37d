/**
 * The template deploys by hand: `pandacluster build-template` writes it, the AWS CLI creates the
 * stack on the emulator with only the parameters that have no default, and the stack reaches
 * CREATE_COMPLETE, secure by default (SSH closed, etcd's ports between the right groups only,
 * encrypted gp3 root volumes). Everything is read back with the AWS CLI, an independent client.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CfnTemplate } from "../../src/template/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

/** A Flatcar stable amd64 image of test/fixtures/flatcar-amis.json (moto lists it). */
const IMAGE = "ami-3dea0b44311457889";
/** Values for the parameters that have no default (those a hand deployer must give). */
const VALUES: Record<string, string> = {
  KeyPair: "k1",
  ImageId: IMAGE,
  PrivateDomain: "hand.cluster",
  DiscoveryURL: "https://discovery.etcd.io/0123456789abcdef0123456789abcdef",
};

describe("a template deployed by hand with the AWS CLI", () => {
  for (const provisioning of ["ignition", "cloud-config"]) {
    it(`${provisioning}: create-stack with only the parameters that have no default → CREATE_COMPLETE, secure by default`, async () => {
      const path = join(world.dir, `hand-${provisioning}.json`);
      const built = await world.cli([
        "build-template",
        "--offline",
        "--provisioning",
        provisioning,
        "-p",
        path,
      ]);
      assert.equal(built.code, 0, built.stderr);
      const template = JSON.parse(readFileSync(path, "utf8")) as CfnTemplate;
      const required = Object.entries(template.Parameters)
        .filter(([, p]) => p.Default === undefined)
        .map(([name]) => name)
        .sort();
      for (const name of required)
        assert.ok(VALUES[name], `a hand deployer must give ${name}: the test knows no value`);
      assert.ok(required.includes("KeyPair") && required.includes("ImageId"), required.join(","));

      const name = `hand-${provisioning}`;
      await world.aws([
        "cloudformation",
        "create-stack",
        "--stack-name",
        name,
        "--template-body",
        `file://${path}`,
        "--parameters",
        ...required.map((p) => `ParameterKey=${p},ParameterValue=${VALUES[p]}`),
      ]);
      const stacks = await world.aws<{
        Stacks: { StackStatus: string; Outputs: { OutputKey: string; OutputValue: string }[] }[];
      }>(["cloudformation", "describe-stacks", "--stack-name", name]);
      const stack = stacks.Stacks[0];
      assert.equal(stack?.StackStatus, "CREATE_COMPLETE");
      const out = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));

      const groups = await world.aws<{
        SecurityGroups: {
          GroupId: string;
          IpPermissions: { FromPort: number; IpRanges: unknown[]; UserIdGroupPairs: { GroupId: string }[] }[];
        }[];
      }>([
        "ec2",
        "describe-security-groups",
        "--group-ids",
        out.ControllerSecurityGroupId ?? "",
        out.WorkerSecurityGroupId ?? "",
      ]);
      const rules = (id: string | undefined) =>
        (groups.SecurityGroups.find((g) => g.GroupId === id)?.IpPermissions ?? [])
          .map(
            (p) =>
              `${p.FromPort} from ${
                p.IpRanges.length
                  ? "a CIDR"
                  : p.UserIdGroupPairs.map((g) =>
                      g.GroupId === out.WorkerSecurityGroupId ? "workers" : "controllers",
                    )
                      .sort()
                      .join("+")
              }`,
          )
          .sort();
      assert.deepEqual(rules(out.ControllerSecurityGroupId), [
        "2379 from controllers+workers",
        "2380 from controllers",
      ]);
      assert.deepEqual(rules(out.WorkerSecurityGroupId), [], "SSH closed, nothing else open");

      const group = await world.aws<{
        AutoScalingGroups: {
          Instances: { InstanceId: string }[];
          LaunchTemplate: { LaunchTemplateId: string };
        }[];
      }>([
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        out.AutoScalingGroupName ?? "",
      ]);
      assert.equal(group.AutoScalingGroups[0]?.Instances.length, 3, "ClusterSize's default");
      const versions = await world.aws<{
        LaunchTemplateVersions: {
          LaunchTemplateData: { BlockDeviceMappings: { Ebs: Record<string, unknown> }[] };
        }[];
      }>([
        "ec2",
        "describe-launch-template-versions",
        "--launch-template-id",
        group.AutoScalingGroups[0]?.LaunchTemplate.LaunchTemplateId ?? "",
        "--versions",
        "$Latest",
      ]);
      assert.deepEqual(versions.LaunchTemplateVersions[0]?.LaunchTemplateData.BlockDeviceMappings[0]?.Ebs, {
        DeleteOnTermination: true,
        Encrypted: true,
        VolumeSize: 30,
        VolumeType: "gp3",
      });
    });
  }
});
