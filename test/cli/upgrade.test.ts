/**
 * `pandacluster upgrade` (issue 17) through the real CLI on the paced emulator (stacks take time,
 * new instances stay pending before they serve), checked with the AWS CLI: a cluster made on an old
 * image ends with every instance on the channel's newest, never with fewer than N-1 controllers or
 * fewer workers than --min-healthy allows in service while it rolls, with its DNS names right; a
 * dry run changes nothing; Ctrl-C then `wait` finishes the roll.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { StatusResult, UpgradeResult } from "../../src/lifecycle/types.js";
import { membersReport, sampleInService } from "../helpers/roll-watch.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const NEWEST_STABLE = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm
const OLDER_STABLE = "ami-fa0d1c89df5ae07f8"; // Flatcar-stable-4152.2.3-hvm

const world = worldPerFile({ paceMs: 1500, bootMs: 1500 });

interface Instances {
  Reservations: { Instances: { InstanceId: string; ImageId: string; PrivateIpAddress?: string }[] }[];
}

async function createOld(name: string): Promise<void> {
  const created = await world.cli(
    ["create", "-n", name, "-k", "k1", "-s", "3", "--workers", "2", "--image-id", OLDER_STABLE],
    { timeoutMs: 180_000 },
  );
  assert.equal(created.code, 0, created.stderr);
}

/** The running instances of the cluster's groups, as the AWS CLI sees them. */
async function running(
  name: string,
): Promise<{ InstanceId: string; ImageId: string; PrivateIpAddress?: string }[]> {
  const seen = await world.aws<Instances>([
    "ec2",
    "describe-instances",
    "--filters",
    `Name=tag:pandacluster:cluster,Values=${name}`,
    "Name=instance-state-name,Values=running,pending",
  ]);
  return seen.Reservations.flatMap((r) => r.Instances);
}

const _credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

/** Every node in service has a node-<i> name pointing at it; etcd lists the controllers. */
async function checkNames(name: string): Promise<void> {
  const { json } = await world.cliJson<StatusResult>(["status", "-n", name]);
  const zone = json.dns?.private_zone_id ?? "";
  const sets = await world.aws<{
    ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
  }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zone]);
  const a = sets.ResourceRecordSets.filter((s) => s.Type === "A");
  const nodeIps = a
    .filter((s) => /^node-\d+\./.test(s.Name))
    .flatMap((s) => s.ResourceRecords?.map((r) => r.Value) ?? [])
    .sort();
  assert.deepEqual(nodeIps, json.nodes.map((n) => n.private_ip ?? "").sort());
  const etcd = a
    .find((s) => s.Name.startsWith("etcd."))
    ?.ResourceRecords?.map((r) => r.Value)
    .sort();
  const controllers = json.nodes.filter((n) => n.role !== "worker").map((n) => n.private_ip ?? "");
  assert.deepEqual(etcd, controllers.sort());
}

describe("pandacluster upgrade", () => {
  let members: { stop(): Promise<void> } | undefined;
  beforeEach(() => {
    members = membersReport(world.moto.endpoint);
  });
  afterEach(async () => {
    await members?.stop();
  });

  it("a dry run prints the plan and changes nothing; the upgrade replaces every node, controllers one at a time", async () => {
    await createOld("roll");
    const status = await world.cliJson<StatusResult>(["status", "-n", "roll"]);
    assert.match(status.json.image?.warning ?? "", /older than the channel's newest/);
    const before = await running("roll");
    assert.equal(before.length, 5);

    const planned = await world.cliJson<UpgradeResult>(["upgrade", "-n", "roll", "--dry-run"]);
    assert.equal(planned.run.code, 0, planned.run.stderr);
    assert.equal(planned.json.status, "planned");
    assert.equal(planned.json.image_to, NEWEST_STABLE);
    assert.equal(planned.json.plan.controllers.length, 3);
    assert.equal(planned.json.plan.workers.length, 2);
    // 2 workers at 90 %: no batch keeps 2 in service, so one extra is launched before each goes.
    assert.equal(planned.json.plan.worker_strategy.kind, "surge");
    assert.deepEqual(
      planned.json.plan.controllers.map((s) => s.order),
      [1, 2, 3],
    );
    const text = await world.cli(["upgrade", "-n", "roll", "--dry-run"]);
    assert.match(text.stdout, /dry run: would update stack roll to image ami-84380cf42e2ae29d6/);
    assert.deepEqual(
      (await running("roll")).map((i) => `${i.InstanceId}:${i.ImageId}`).sort(),
      before.map((i) => `${i.InstanceId}:${i.ImageId}`).sort(),
      "the dry run changed no instance",
    );
    const stack = await world.aws<{
      Stacks: { Parameters: { ParameterKey: string; ParameterValue: string }[] }[];
    }>(["cloudformation", "describe-stacks", "--stack-name", "roll"]);
    assert.equal(
      stack.Stacks[0]?.Parameters.find((p) => p.ParameterKey === "ImageId")?.ParameterValue,
      OLDER_STABLE,
    );

    const sampler = sampleInService(world.moto.endpoint, "roll");
    const upgraded = await world.cliJson<UpgradeResult>(["upgrade", "-n", "roll"], { timeoutMs: 300_000 });
    const fewest = await sampler.stop();
    assert.equal(upgraded.run.code, 0, upgraded.run.stderr);
    assert.equal(upgraded.json.status, "success", upgraded.json.message);
    assert.equal(upgraded.json.replaced.length, 5);
    for (const step of upgraded.json.replaced)
      assert.match(step.by ?? "", /^i-/, `${step.replaced} has its replacement`);
    assert.deepEqual(
      upgraded.json.replaced.map((s) => s.role),
      ["controller", "controller", "controller", "worker", "worker"],
    );
    assert.ok(fewest.samples > 10, `sampled ${fewest.samples} times`);
    assert.ok(
      fewest.controllers >= 2,
      `never fewer than N-1 controllers in service (saw ${fewest.controllers})`,
    );
    assert.ok(
      fewest.workers >= 2,
      `never fewer workers than --min-healthy 90 allows (saw ${fewest.workers})`,
    );

    const after = await running("roll");
    assert.equal(after.length, 5);
    for (const instance of after) assert.equal(instance.ImageId, NEWEST_STABLE, instance.InstanceId);
    assert.equal(after.filter((i) => before.some((b) => b.InstanceId === i.InstanceId)).length, 0);
    await checkNames("roll");
    const warned = await world.cliJson<StatusResult>(["status", "-n", "roll"]);
    assert.equal(warned.json.image?.warning, null);
  });

  it("Ctrl-C stops the roll between steps with the cluster serving; wait finishes it", async () => {
    await createOld("halt");
    const stopped = await world.cli(["upgrade", "-n", "halt"], {
      signalWhen: { text: "replacing controller", signal: "SIGINT" },
      timeoutMs: 300_000,
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(
      stopped.stderr,
      /Interrupted\. The upgrade of halt stopped between two steps; the cluster keeps serving/,
    );
    assert.match(stopped.stderr, /pandacluster wait -n halt -r us-east-1/);
    assert.ok(
      (await running("halt")).some((i) => i.ImageId === OLDER_STABLE),
      "the roll is not done yet",
    );

    const resumed = await world.cliJson<UpgradeResult>(["wait", "-n", "halt"], { timeoutMs: 300_000 });
    assert.equal(resumed.run.code, 0, resumed.run.stderr);
    assert.equal(resumed.json.status, "success", resumed.json.message);
    for (const instance of await running("halt")) assert.equal(instance.ImageId, NEWEST_STABLE);
    await checkNames("halt");
  });

  it("refuses bad input before any AWS call", async () => {
    const bad = await world.cli(["upgrade", "-n", "x", "--min-healthy", "101"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-healthy: 101 is out of range; use 0 to 100/);
    const image = await world.cli(["upgrade", "-n", "x", "--image-id", "ami-xyz"]);
    assert.equal(image.code, 2);
    assert.match(image.stderr, /--image-id: "ami-xyz"/);
    // PANDACLUSTER_SERVER set means the server's mode (never this machine's credentials): without
    // the profile's token it stops before any call (test/server/upgrade-e2e.test.ts runs it).
    const remote = await world.cli(["upgrade", "-n", "x"], {
      env: { PANDACLUSTER_SERVER: "http://127.0.0.1:9", PANDACLUSTER_TOKEN: "" },
    });
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /PANDACLUSTER_TOKEN is not set: the server at http:\/\/127\.0\.0\.1:9 needs/);
    // A stack of that name this tool did not make for it is never upgraded (identity, issue 14).
    await world.aws([
      "cloudformation",
      "create-stack",
      "--stack-name",
      "foreign",
      "--template-body",
      JSON.stringify({
        Resources: { Net: { Type: "AWS::EC2::VPC", Properties: { CidrBlock: "10.9.0.0/16" } } },
      }),
    ]);
    const foreign = await world.cli(["upgrade", "-n", "foreign"]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /was not created by pandacluster for that name .* not touching it/);
    const missing = await world.cli(["upgrade", "-n", "nosuch"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no cluster named nosuch in us-east-1/);
  });
});
