/**
 * Creation signals, end to end on the paced emulator with creation signals on (moto holds a group
 * with a CreationPolicy CREATE_IN_PROGRESS until SignalResource, as AWS does): `create` says "ready"
 * only once every slot's node signalled, and shows a node's reason when it signals FAILURE. The
 * nodes are stood in for by the node script from the controllers' launch template, run with a
 * stand-in metadata service (moto runs no instance); the etcd part of `ready` needs real etcd (the
 * real-etcd harness), so here the script's own `signal` step is run, as `ready` runs it.
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

const PACE_MS = 1500;
const world = worldPerFile({ paceMs: PACE_MS, signals: true });
const scratch = mkdtempSync(join(tmpdir(), "pandacluster-etcd-signals-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Instances {
  Reservations: { Instances: { InstanceId: string; Tags?: { Key: string; Value: string }[] }[] }[];
}

/** The running instance of each slot, once all are there. */
async function slots(stack: string, size: number): Promise<Map<number, string>> {
  for (let i = 0; i < 200; i++) {
    const seen = await world.aws<Instances>([
      "ec2",
      "describe-instances",
      "--filters",
      `Name=tag:pandacluster:cluster,Values=${stack}`,
      "Name=tag-key,Values=pandacluster:slot",
      "Name=instance-state-name,Values=running,pending",
    ]);
    const bySlot = new Map<number, string>();
    for (const instance of seen.Reservations.flatMap((r) => r.Instances)) {
      const slot = Number(instance.Tags?.find((t) => t.Key === "pandacluster:slot")?.Value);
      bySlot.set(slot, instance.InstanceId);
    }
    if (bySlot.size === size) return bySlot;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the slots of ${stack} never all had an instance`);
}

/** Runs `signal STATUS` on each slot's node, as its ready unit would. */
async function signalAll(stack: string, statuses: Record<number, "SUCCESS" | "FAILURE">): Promise<void> {
  const instances = await slots(stack, Object.keys(statuses).length);
  const side = nodeSide(await controllerConfig(world, await controllerLaunchTemplate(world, stack)), scratch);
  for (const [slot, instance] of instances) {
    const status = statuses[slot] as "SUCCESS" | "FAILURE";
    if (status === "FAILURE") {
      // What the node's ready step writes before it signals FAILURE (its status line, as a tag).
      await world.aws([
        "ec2",
        "create-tags",
        "--resources",
        instance,
        "--tags",
        JSON.stringify([
          {
            Key: "pandacluster:etcd-status",
            Value: "failed: after 900s, etcd-2 is not healthy (no quorum, or it cannot reach its peers)",
          },
        ]),
      ]);
    }
    const imds = await startFakeImds(world.moto.endpoint, instance);
    try {
      const run = join(scratch, `${stack}-${slot}`);
      const said = await step(world, side, imds.endpoint, run, "signal", status);
      // After a FAILURE the stack takes no more signals (AWS: "… cannot be signaled").
      const taken = new RegExp(
        `signalled ${status} to ControllerGroup${slot} of ${stack}|cannot be signaled`,
      );
      assert.match(said.stderr, taken);
    } finally {
      await imds.stop();
    }
  }
}

describe("creation signals", () => {
  it("the stack waits for every slot's SUCCESS; create says ready only then", async () => {
    const creating = world.cliJson<ClusterResult>(["create", "-n", "sig", "-k", "k1"]);
    // Until the nodes signal, the stack stays CREATE_IN_PROGRESS (well past the pace).
    await slots("sig", 3);
    await new Promise((resolve) => setTimeout(resolve, PACE_MS + 1000));
    const before = await world.aws<{ Stacks: { StackStatus: string }[] }>([
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      "sig",
    ]);
    assert.equal(before.Stacks[0]?.StackStatus, "CREATE_IN_PROGRESS");
    await signalAll("sig", { 1: "SUCCESS", 2: "SUCCESS", 3: "SUCCESS" });
    const created = await creating;
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.equal(created.json.status, "success");
    assert.match(created.run.stderr, /ControllerGroup1\s+CREATE_COMPLETE/);
    const status = await world.cliJson<StatusResult>(["status", "-n", "sig"]);
    assert.deepEqual(
      status.json.slots?.map((s) => [s.slot, s.signalled]),
      [
        [1, true],
        [2, true],
        [3, true],
      ],
    );
  });

  it("a node that signals FAILURE fails the stack; create shows CloudFormation's event and the node's reason", async () => {
    const creating = world.cliJson<ClusterResult>([
      "create",
      "-n",
      "bad",
      "-k",
      "k1",
      "--on-failure",
      "DO_NOTHING",
    ]);
    await signalAll("bad", { 1: "SUCCESS", 2: "FAILURE", 3: "SUCCESS" });
    const created = await creating;
    assert.equal(created.run.code, 1, created.run.stderr);
    assert.equal(created.json.status, "failure");
    const reasons = created.json.reasons.join("\n");
    assert.match(
      reasons,
      /ControllerGroup2 \(AWS::AutoScaling::AutoScalingGroup\) CREATE_FAILED: Received FAILURE signal with UniqueId i-/,
    );
    assert.match(reasons, /etcd-2 \(i-[0-9a-f]+, running\) said: failed: after 900s, etcd-2 is not healthy/);
  });
});
