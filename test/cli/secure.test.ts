/**
 * Issue 16 end to end: `pandacluster create` against the moto emulator, read back with the AWS CLI.
 * SSH is closed unless --allow-ssh-from is given (and create says how to open it); --volume-size
 * sizes every node's encrypted gp3 root volume and is checked against the image's root snapshot
 * before anything is created; controllers and workers are in their own groups.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

interface Groups {
  SecurityGroups: {
    GroupId: string;
    IpPermissions: { FromPort: number; ToPort: number; IpRanges: { CidrIp: string }[] }[];
  }[];
}

const outputsOf = (result: ClusterResult) =>
  (result.details.formation as { outputs: Record<string, string> }).outputs;

async function rules(groupId: string): Promise<string[]> {
  const seen = await world.aws<Groups>(["ec2", "describe-security-groups", "--group-ids", groupId]);
  return (seen.SecurityGroups[0]?.IpPermissions ?? [])
    .map((p) => `${p.FromPort}-${p.ToPort} ${p.IpRanges.map((r) => r.CidrIp).join(",")}`.trim())
    .sort();
}

async function rootVolume(result: ClusterResult, logical: string) {
  const resources = await world.aws<{
    StackResources: { LogicalResourceId: string; PhysicalResourceId: string }[];
  }>(["cloudformation", "describe-stack-resources", "--stack-name", result.cluster.stack_id ?? ""]);
  const id = resources.StackResources.find((r) => r.LogicalResourceId === logical)?.PhysicalResourceId ?? "";
  const versions = await world.aws<{
    LaunchTemplateVersions: { LaunchTemplateData: { BlockDeviceMappings: unknown[] } }[];
  }>(["ec2", "describe-launch-template-versions", "--launch-template-id", id, "--versions", "$Latest"]);
  return versions.LaunchTemplateVersions[0]?.LaunchTemplateData.BlockDeviceMappings;
}

describe("secure by default, through the CLI on the emulator", () => {
  it("without --allow-ssh-from: no SSH rule anywhere, a notice at create and in the summary says how to open it", async () => {
    const created = await world.cli(["create", "-n", "closed", "-k", "k1", "-w", "1"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stderr,
      /SSH is closed: port 22 is open to no one \(no --allow-ssh-from, allow_ssh_from over HTTP\); give the address you connect from, e\.g\. --allow-ssh-from 203\.0\.113\.7\/32/,
    );
    assert.match(created.stdout, /SSH is closed\. Open it at create with --allow-ssh-from CIDR/);
    assert.doesNotMatch(created.stdout, /ssh core@/);

    const stack = await world.aws<{ Stacks: { Outputs: { OutputKey: string; OutputValue: string }[] }[] }>([
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      "closed",
    ]);
    const out = Object.fromEntries((stack.Stacks[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    assert.deepEqual(await rules(out.WorkerSecurityGroupId as string), [], "workers: nothing open at all");
    assert.deepEqual(await rules(out.ControllerSecurityGroupId as string), ["2379-2379", "2380-2380"]);
  });

  it("--allow-ssh-from and --volume-size: port 22 from that block on both groups, encrypted gp3 of that size on both launch templates", async () => {
    const created = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "open",
      "-k",
      "k1",
      "-w",
      "1",
      "--allow-ssh-from",
      "203.0.113.7/32",
      "--volume-size",
      "40",
    ]);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.doesNotMatch(created.run.stderr, /SSH is closed/);
    assert.equal(created.json.cluster.ssh_from, "203.0.113.7/32");
    const out = outputsOf(created.json);
    assert.deepEqual(await rules(out.WorkerSecurityGroupId as string), ["22-22 203.0.113.7/32"]);
    assert.deepEqual(await rules(out.ControllerSecurityGroupId as string), [
      "22-22 203.0.113.7/32",
      "2379-2379",
      "2380-2380",
    ]);
    // Each node is in its role's group only.
    for (const node of created.json.cluster.nodes) {
      const seen = await world.aws<{
        Reservations: { Instances: { SecurityGroups: { GroupId: string }[] }[] }[];
      }>(["ec2", "describe-instances", "--instance-ids", node.instance_id]);
      const groups = seen.Reservations[0]?.Instances[0]?.SecurityGroups.map((g) => g.GroupId);
      const expected = node.role === "worker" ? out.WorkerSecurityGroupId : out.ControllerSecurityGroupId;
      assert.deepEqual(groups, [expected], `${node.instance_id} (${node.role})`);
    }
    for (const template of ["LaunchTemplate", "WorkerLaunchTemplate"]) {
      assert.deepEqual(await rootVolume(created.json, template), [
        {
          DeviceName: "/dev/xvda",
          Ebs: { DeleteOnTermination: true, Encrypted: true, VolumeSize: 40, VolumeType: "gp3" },
        },
      ]);
    }
  });

  it("a --volume-size smaller than the image's root snapshot is bad input before anything is created (exit 2)", async () => {
    const run = await world.cli(["create", "-n", "tiny", "-k", "k1", "--volume-size", "4"]);
    assert.equal(run.code, 2, run.stderr);
    // moto answers every image's root snapshot as 15 GiB, whatever the image: the message reads it.
    assert.match(
      run.stderr,
      /volume_size: 4 GiB is smaller than ami-[0-9a-f]+'s root snapshot \(15 GiB\), which EC2 refuses: give at least 15/,
    );
    const stacks = await world.aws<{ Stacks: unknown[] }>(["cloudformation", "describe-stacks"]);
    assert.deepEqual(stacks.Stacks, []);
  });

  it("bad values are refused naming the flag (exit 2): a CIDR the template would refuse, a size outside EBS's bounds", async () => {
    for (const [flag, value, pattern] of [
      ["--allow-ssh-from", "999.1.1.1/40", /--allow-ssh-from.*"999\.1\.1\.1\/40" is not an IPv4 CIDR block/],
      ["--volume-size", "16385", /--volume-size.*16384/],
      ["--volume-size", "0", /--volume-size/],
    ] as const) {
      const run = await world.cli(["create", "-n", "bad", "-k", "k1", flag, value]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, pattern);
    }
  });
});
