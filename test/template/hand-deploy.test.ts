/**
 * The template deploys by hand: `pandacluster build-template` writes it, the AWS CLI creates the
 * stack on the emulator with only the parameters that have no default, and the stack reaches
 * CREATE_COMPLETE, secure by default (SSH closed, etcd's ports between the right groups only,
 * encrypted gp3 root volumes), and the names the workers reach etcd by are records of the stack's
 * own private zone. Everything is read back with the AWS CLI, an independent client.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CfnTemplate } from "../../src/template/types.js";
import { allText, decodeUserData, userDataBytes } from "../helpers/boot.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

/** A Flatcar stable amd64 image of test/fixtures/flatcar-amis.json (moto lists it). */
const IMAGE = "ami-3dea0b44311457889";
/** Values for the parameters that have no default (those a hand deployer must give). */
const VALUES: Record<string, string> = { KeyPair: "k1", ImageId: IMAGE };

/** The physical id of a stack's resource, as the AWS CLI lists it. */
async function physicalId(stack: string, logical: string): Promise<string> {
  const listed = await world.aws<{
    StackResources: { LogicalResourceId: string; PhysicalResourceId: string }[];
  }>(["cloudformation", "describe-stack-resources", "--stack-name", stack]);
  return listed.StackResources.find((r) => r.LogicalResourceId === logical)?.PhysicalResourceId ?? "";
}

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
      assert.deepEqual(required, ["ImageId", "KeyPair"], "only the key pair and the image (no map offline)");

      const name = `hand-${provisioning}`;
      await world.aws([
        "cloudformation",
        "create-stack",
        "--stack-name",
        name,
        "--template-body",
        `file://${path}`,
        // The controllers' IAM role (static etcd slots, doc/etcd.md): CloudFormation asks for this.
        "--capabilities",
        "CAPABILITY_IAM",
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
        // One group per etcd slot (doc/etcd.md), each of one instance.
        ...(out.ControllerGroupNames ?? "").split(","),
      ]);
      assert.equal(
        group.AutoScalingGroups.flatMap((g) => g.Instances).length,
        3,
        "ClusterSize's default, one per slot",
      );
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

      // The workers reach etcd by names the stack's own private zone holds: read the names from the
      // workers' boot config as EC2 holds it, and each from the zone (PrivateZoneId output).
      const worker = await world.aws<{
        LaunchTemplateVersions: { LaunchTemplateData: { UserData: string } }[];
      }>([
        "ec2",
        "describe-launch-template-versions",
        "--launch-template-id",
        await physicalId(name, "WorkerLaunchTemplate"),
        "--versions",
        "$Latest",
      ]);
      const decoded = decodeUserData(
        userDataBytes(worker.LaunchTemplateVersions[0]?.LaunchTemplateData.UserData ?? ""),
      );
      const endpoints = /ETCDCTL_ENDPOINTS=(\S+?) >>/.exec(allText(decoded))?.[1] ?? "";
      const names = endpoints.split(",").map((url) => new URL(url).hostname);
      assert.ok(
        names.length >= 1 && names.every((n) => n.endsWith(`.${template.Parameters.PrivateDomain?.Default}`)),
        endpoints,
      );
      const sets = await world.aws<{ ResourceRecordSets: { Name: string; Type: string }[] }>([
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        out.PrivateZoneId ?? "",
      ]);
      const records = new Set(
        sets.ResourceRecordSets.filter((r) => r.Type === "A").map((r) => r.Name.replace(/\.$/, "")),
      );
      for (const host of names) assert.ok(records.has(host), `${host} has an A record in the stack's zone`);
    });
  }
});
