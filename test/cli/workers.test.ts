/**
 * Workers, scale and sync end to end through bin/pandacluster, on the moto emulator with AWS's pace
 * (pandacluster_moto's PANDACLUSTER_MOTO_PACE_MS: stacks stay *_IN_PROGRESS, instances pending
 * first), checked with the AWS CLI as an independent client.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterResult, SyncResult } from "../../src/lifecycle/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const PACE_MS = 4000;
const world = worldPerFile({ paceMs: PACE_MS });

interface Groups {
  AutoScalingGroups: {
    AutoScalingGroupName: string;
    Instances: { InstanceId: string; LifecycleState: string }[];
  }[];
}

/** What the AWS CLI sees: each group's InService instances, with their private addresses. */
async function seen(): Promise<{ controllers: Map<string, string>; workers: Map<string, string> }> {
  const groups = await world.aws<Groups>(["autoscaling", "describe-auto-scaling-groups"]);
  const reservations = await world.aws<{
    Reservations: {
      Instances: { InstanceId: string; PrivateIpAddress: string; State: { Name: string } }[];
    }[];
  }>(["ec2", "describe-instances", "--filters", "Name=instance-state-name,Values=running"]);
  const ipOf = new Map(
    reservations.Reservations.flatMap((r) => r.Instances).map((i) => [i.InstanceId, i.PrivateIpAddress]),
  );
  const of = (worker: boolean) =>
    new Map(
      groups.AutoScalingGroups.filter((g) => g.AutoScalingGroupName.includes("WorkerGroup") === worker)
        .flatMap((g) => g.Instances)
        .filter((i) => i.LifecycleState === "InService" && ipOf.has(i.InstanceId))
        .map((i) => [i.InstanceId, ipOf.get(i.InstanceId) as string]),
    );
  return { controllers: of(false), workers: of(true) };
}

/** The private zone's A records, as the AWS CLI lists them: name → sorted values. */
async function records(zoneId: string): Promise<Map<string, string[]>> {
  const sets = await world.aws<{
    ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
  }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId]);
  return new Map(
    sets.ResourceRecordSets.filter((s) => s.Type === "A").map((s) => [
      s.Name.replace(/\.$/, ""),
      (s.ResourceRecords ?? []).map((r) => r.Value).sort(),
    ]),
  );
}

/**
 * The controllers whose etcd member says it is healthy (the instance tag its node script writes;
 * here the test writes it, standing in for nodes that moto does not run).
 */
async function healthyControllers(controllers: Map<string, string>): Promise<string[]> {
  if (controllers.size === 0) return [];
  const tags = await world.aws<{ Tags: { ResourceId: string; Value: string }[] }>([
    "ec2",
    "describe-tags",
    "--filters",
    "Name=key,Values=pandacluster:etcd-status",
  ]);
  const healthy = new Set(tags.Tags.filter((t) => t.Value.startsWith("healthy")).map((t) => t.ResourceId));
  return [...controllers].filter(([id]) => healthy.has(id)).map(([, ip]) => ip);
}

/** What each controller's node script says once its member is healthy (moto runs no node). */
async function reportHealthy(): Promise<void> {
  const { controllers } = await seen();
  await world.aws([
    "ec2",
    "create-tags",
    "--resources",
    ...controllers.keys(),
    "--tags",
    "Key=pandacluster:etcd-status,Value=healthy: one of 3 voting members",
  ]);
}

/**
 * The zone holds node-<i> for exactly the instances in service, and etcd.<zone> for the controllers
 * whose members say they are healthy (none: no record).
 */
async function checkNames(zoneId: string, zone: string): Promise<Map<string, string>> {
  const { controllers, workers } = await seen();
  const held = await records(zoneId);
  const members = (await healthyControllers(controllers)).sort();
  assert.deepEqual(held.get(`etcd.${zone}`), members.length > 0 ? members : undefined);
  const names = new Map<string, string>(); // ip → name
  for (const [name, values] of held) {
    if (!name.startsWith("node-")) continue;
    assert.equal(values.length, 1, name);
    names.set(values[0] as string, name);
  }
  const ips = [...controllers.values(), ...workers.values()].sort();
  assert.deepEqual([...names.keys()].sort(), ips, "one node-<i> record per instance in service, no other");
  return names;
}

describe("workers, scale and sync (paced emulator)", () => {
  it("create -s 3 --workers 2, scale to 5 then 0, an instance replaced behind the tool's back, sync", async () => {
    const created = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "demo",
      "-k",
      "k1",
      "-s",
      "3",
      "--workers",
      "2",
    ]);
    assert.equal(created.run.code, 0, created.run.stderr);
    const cluster = created.json.cluster;
    assert.equal(cluster.cluster_size, 3);
    assert.equal(cluster.workers, 2);
    assert.equal(cluster.nodes.length, 5);
    const { controllers, workers } = await seen();
    assert.equal(controllers.size, 3);
    assert.equal(workers.size, 2);
    for (const node of cluster.nodes) {
      const group = node.role === "worker" ? workers : controllers;
      assert.equal(group.get(node.instance_id), node.private_ip, `${node.instance_id} is a ${node.role}`);
    }
    // The stack's events were followed while it was in progress (the paced emulator).
    assert.match(created.run.stderr, /following stack demo \(CREATE_IN_PROGRESS\)/);
    const zoneId = cluster.dns?.private_zone_id as string;
    const zone = "demo.cluster";
    const first = await checkNames(zoneId, zone);
    assert.equal((await records(zoneId)).get(`etcd.${zone}`), undefined, "no member said it is healthy yet");
    await reportHealthy();
    // Controllers take node-1..3, workers node-4..5.
    for (const node of cluster.nodes) {
      const index = Number(/^node-(\d+)\./.exec(first.get(node.private_ip as string) ?? "")?.[1]);
      assert.ok(node.role === "worker" ? index >= 4 : index <= 3, `${node.role} ${index}`);
    }
    // The node table shows the roles.
    const table = await world.cli(["status", "-n", "demo"]);
    assert.match(table.stdout, /ROLE/);
    assert.equal((table.stdout.match(/ worker /g) ?? []).length, 2);

    // Scale to 5 workers: the update is followed, the survivors keep their names.
    const up = await world.cliJson<ClusterResult>(["scale", "-n", "demo", "--workers", "5"]);
    assert.equal(up.run.code, 0, up.run.stderr);
    assert.match(up.run.stderr, /UpdateStack accepted: workers 2 → 5/);
    assert.match(up.run.stderr, /UPDATE_IN_PROGRESS/);
    assert.equal(up.json.cluster.workers, 5);
    assert.equal(up.json.cluster.nodes.length, 8);
    assert.equal((await seen()).workers.size, 5);
    const afterUp = await checkNames(zoneId, zone);
    for (const [ip, name] of first) assert.equal(afterUp.get(ip), name, `${ip} keeps ${name}`);
    const stack = await world.aws<{
      Stacks: { StackStatus: string; Parameters: { ParameterKey: string; ParameterValue: string }[] }[];
    }>(["cloudformation", "describe-stacks", "--stack-name", "demo"]);
    assert.equal(stack.Stacks[0]?.StackStatus, "UPDATE_COMPLETE");
    const params = Object.fromEntries(
      (stack.Stacks[0]?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]),
    );
    assert.equal(params.Workers, "5");
    assert.equal(params.ClusterSize, "3");
    assert.equal(params.DiscoveryURL ?? null, cluster.discovery_url, "previous values kept (none: static)");

    // An instance terminated behind the tool's back: the group replaces it; sync renames.
    const victim = [...(await seen()).workers.keys()][0] as string;
    const victimName = afterUp.get((await seen()).workers.get(victim) as string) as string;
    await world.aws([
      "autoscaling",
      "terminate-instance-in-auto-scaling-group",
      "--instance-id",
      victim,
      "--no-should-decrement-desired-capacity",
    ]);
    // The replacement boots (pending) for the pace before it is in service.
    await new Promise((resolve) => setTimeout(resolve, PACE_MS + 500));
    const synced = await world.cliJson<SyncResult>(["sync", "-n", "demo"]);
    assert.equal(synced.run.code, 0, synced.run.stderr);
    assert.equal(synced.json.changes.length, 1, synced.json.changes.join("\n"));
    assert.match(synced.json.changes[0] ?? "", new RegExp(`^${victimName.replaceAll(".", "\\.")} → `));
    const afterSync = await checkNames(zoneId, zone);
    for (const [ip, name] of afterUp) if (name !== victimName) assert.equal(afterSync.get(ip), name);
    assert.ok([...afterSync.values()].includes(victimName), "the new instance took the freed name");
    const again = await world.cli(["sync", "-n", "demo"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to change/);

    // Scale to 0: the workers' names are deleted, etcd still lists the controllers.
    const down = await world.cliJson<ClusterResult>(["scale", "-n", "demo", "-w", "0"]);
    assert.equal(down.run.code, 0, down.run.stderr);
    assert.equal(down.json.cluster.nodes.length, 3);
    assert.equal((await seen()).workers.size, 0);
    const afterDown = await checkNames(zoneId, zone);
    assert.equal(afterDown.size, 3);
    assert.equal((await records(zoneId)).get(`etcd.${zone}`)?.length, 3, "the healthy members");
    for (const [ip, name] of afterDown) assert.equal(afterUp.get(ip), name, "controllers keep their names");
  });

  it("scale refuses a missing cluster, one still being created, bad counts and other controllers", async () => {
    const missing = await world.cli(["scale", "-n", "nope", "--workers", "2"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no cluster named nope in us-east-1/);

    for (const [args, message] of [
      [["--workers", "101"], /--workers \(-w\): 101 is out of range; use 0 to 100/],
      [["--workers", "two"], /--workers \(-w\): "two" is not an integer/],
      [[], /--workers \(-w\): is required/],
      [["--workers", "2", "-s", "5"], /etcd's membership is fixed when it bootstraps/],
    ] as const) {
      const bad = await world.cli(["scale", "-n", "demo", ...args]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, message);
    }

    // A create still in progress (Ctrl-C leaves it to CloudFormation), then scale: refused, untouched.
    const create = await world.cli(["create", "-n", "demo", "-k", "k1", "--workers", "1"], {
      signalWhen: { text: "CreateStack accepted", signal: "SIGINT" },
    });
    assert.equal(create.code, 130, create.stderr);
    const busy = await world.cli(["scale", "-n", "demo", "--workers", "3"]);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, /cluster demo is CREATE_IN_PROGRESS: .*pandacluster wait -n demo/);
    const stack = await world.aws<{
      Stacks: { Parameters: { ParameterKey: string; ParameterValue: string }[] }[];
    }>(["cloudformation", "describe-stacks", "--stack-name", "demo"]);
    assert.equal(stack.Stacks[0]?.Parameters.find((p) => p.ParameterKey === "Workers")?.ParameterValue, "1");
  });

  it("Ctrl-C during scale says how to resume; wait -n follows the update and names the nodes", async () => {
    const created = await world.cli(["create", "-n", "demo", "-k", "k1", "--workers", "1"]);
    assert.equal(created.code, 0, created.stderr);
    const scaling = await world.cli(["scale", "-n", "demo", "--workers", "3"], {
      signalWhen: { text: "UpdateStack accepted", signal: "SIGINT" },
    });
    assert.equal(scaling.code, 130, scaling.stderr);
    assert.match(scaling.stderr, /still being updated in AWS/);
    assert.match(scaling.stderr, /pandacluster wait -n demo -r us-east-1/);
    const waited = await world.cliJson<ClusterResult>(["wait", "-n", "demo"]);
    assert.equal(waited.run.code, 0, waited.run.stderr);
    assert.match(waited.run.stderr, /following stack demo \(UPDATE_IN_PROGRESS\)/);
    assert.doesNotMatch(waited.run.stderr, /CREATE_IN_PROGRESS/, "only the update's events");
    assert.equal(waited.json.cluster.nodes.filter((n) => n.role === "worker").length, 3);
    await checkNames(waited.json.cluster.dns?.private_zone_id as string, "demo.cluster");
  });
});
