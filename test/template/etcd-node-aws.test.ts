/**
 * The AWS side of a static controller, on the emulator: the node script and the commands its units
 * run, taken from the Ignition config of the stack `create` made (the controllers' launch template's
 * user data, read back from EC2), run
 * against moto with a stand-in instance metadata service (test/helpers/imds.ts: moto has none; it
 * answers from moto's own view of the instance) — attach the slot's volume, publish the slot's name,
 * signal the stack — and checked with the AWS CLI. Then a controller is terminated behind the
 * tool's back (Auto Scaling's TerminateInstanceInAutoScalingGroup, as a failed health check does)
 * and the replacement, run the same way, comes back in the same slot with the same volume and name.
 *
 * What is not run here: `mount` (a real disk) and `member` / `ready` (real etcd): the real-etcd
 * harness runs those from the same config.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ClusterResult, StatusResult } from "../../src/lifecycle/types.js";
import { controllerConfig, controllerLaunchTemplate, nodeSide, step } from "../helpers/etcd_node.js";
import { startFakeImds } from "../helpers/imds.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();
const scratch = mkdtempSync(join(tmpdir(), "pandacluster-etcd-node-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Volumes {
  Volumes: { VolumeId: string; Attachments: { InstanceId: string; State: string; Device: string }[] }[];
}
interface RecordSets {
  ResourceRecordSets: {
    Name: string;
    Type: string;
    SetIdentifier?: string;
    Weight?: number;
    ResourceRecords?: { Value: string }[];
  }[];
}
interface Instances {
  Reservations: {
    Instances: {
      InstanceId: string;
      PrivateIpAddress: string;
      State: { Name: string };
      Tags: { Key: string; Value: string }[];
    }[];
  }[];
}

describe("a static controller's boot, on the emulator", () => {
  it("attaches its slot's volume, publishes etcd-1, signals; a replacement comes back as slot 1", async () => {
    const registered = await world.registered();
    const created = await world.cliJson<ClusterResult>(["create", "-n", "demo", "-k", "k1"]);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.equal(created.json.cluster.discovery_url, null, "no discovery service on the default path");
    assert.equal(await world.registered(), registered, "the discovery service (in the config) was not asked");
    const zoneId = created.json.cluster.dns?.private_zone_id as string;
    const side = nodeSide(
      await controllerConfig(world, await controllerLaunchTemplate(world, "demo")),
      scratch,
    );

    const slotInstances = async (): Promise<Instances["Reservations"][number]["Instances"]> =>
      (
        await world.aws<Instances>([
          "ec2",
          "describe-instances",
          "--filters",
          "Name=tag:pandacluster:slot,Values=1",
          "Name=tag:pandacluster:cluster,Values=demo",
          "Name=instance-state-name,Values=running",
        ])
      ).Reservations.flatMap((r) => r.Instances);
    const [first] = await slotInstances();
    assert.ok(first, "slot 1 has an instance");
    const tag = (key: string) => first.Tags.find((t) => t.Key === key)?.Value as string;
    const volumeId = tag("pandacluster:volume");
    assert.match(volumeId, /^vol-/);

    const imds = await startFakeImds(world.moto.endpoint, first.InstanceId);
    try {
      const runDir = join(scratch, "run-1");
      await step(world, side, imds.endpoint, runDir, "identity");
      await step(world, side, imds.endpoint, runDir, "attach");
      await step(world, side, imds.endpoint, runDir, "publish");
      const signalled = await step(world, side, imds.endpoint, runDir, "signal", "SUCCESS");
      // moto finishes the stack inside CreateStack: the group already took its creation, so the
      // signal reaches CloudFormation and is refused as AWS refuses one after creation.
      assert.match(signalled.stderr, /ControllerGroup1 is in CREATE_COMPLETE state and cannot be signaled/);

      const attachedTo = async () =>
        (await world.aws<Volumes>(["ec2", "describe-volumes", "--volume-ids", volumeId])).Volumes[0]
          ?.Attachments;
      assert.deepEqual(
        (await attachedTo())?.map((a) => [a.InstanceId, a.State, a.Device]),
        [[first.InstanceId, "attached", "/dev/xvdf"]],
      );
      const nodeRecord = async () =>
        (
          await world.aws<RecordSets>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId])
        ).ResourceRecordSets.filter(
          (s) => s.Name.replace(/\.$/, "") === "etcd-1.demo.cluster" && s.Type === "A",
        );
      const records = await nodeRecord();
      assert.deepEqual(records.map((r) => [r.SetIdentifier, r.ResourceRecords?.map((v) => v.Value)]).sort(), [
        ["instance", [first.PrivateIpAddress]],
        ["placeholder", ["203.0.113.123"]],
      ]);

      // Terminated behind the tool's back; Auto Scaling launches a replacement in the slot's group.
      await world.aws([
        "autoscaling",
        "terminate-instance-in-auto-scaling-group",
        "--instance-id",
        first.InstanceId,
        "--no-should-decrement-desired-capacity",
      ]);
      const [second] = await slotInstances();
      assert.ok(second && second.InstanceId !== first.InstanceId, "a new instance holds slot 1");
      assert.equal(second.Tags.find((t) => t.Key === "pandacluster:volume")?.Value, volumeId);
      imds.instanceId = second.InstanceId;
      const runDir2 = join(scratch, "run-2");
      await step(world, side, imds.endpoint, runDir2, "identity");
      await step(world, side, imds.endpoint, runDir2, "attach");
      await step(world, side, imds.endpoint, runDir2, "publish");
      assert.deepEqual(
        (await attachedTo())?.map((a) => [a.InstanceId, a.State]),
        [[second.InstanceId, "attached"]],
        "the same volume, now on the replacement",
      );
      assert.deepEqual(
        (await nodeRecord())
          .find((r) => r.SetIdentifier === "instance")
          ?.ResourceRecords?.map((v) => v.Value),
        [second.PrivateIpAddress],
        "etcd-1 names the replacement",
      );

      const status = await world.cliJson<StatusResult>(["status", "-n", "demo"]);
      assert.equal(status.run.code, 0, status.run.stderr);
      const slot1 = status.json.slots?.find((s) => s.slot === 1);
      assert.equal(slot1?.instance_id, second.InstanceId);
      assert.equal(slot1?.private_ip, second.PrivateIpAddress);
      assert.equal(slot1?.availability_zone, "us-east-1a");
    } finally {
      await imds.stop();
    }
  });
});
