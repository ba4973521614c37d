/**
 * The cluster lifecycle end to end, through bin/pandacluster, against the moto emulator and a real
 * etcd discovery service; what the tool reports is checked with the AWS CLI and etcd directly.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ClusterResult, DestroyResult, ListResult, StatusResult } from "../../src/lifecycle/types.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

interface Reservations {
  Reservations: {
    Instances: {
      InstanceId: string;
      PrivateIpAddress?: string;
      PublicIpAddress?: string;
      State: { Name: string };
    }[];
  }[];
}

/** Everything create claims, checked against what the AWS CLI and etcd see. */
async function checkCluster(result: ClusterResult, size: number): Promise<void> {
  const cluster = result.cluster;
  assert.equal(result.status, "success", result.message);
  assert.equal(cluster.cluster_size, size);
  assert.equal(cluster.nodes.length, size);

  // The nodes are the instances of the stack's controller groups (one per etcd slot), as the AWS CLI
  // sees them.
  const groups = (result.details.formation as { outputs: Record<string, string> }).outputs
    .ControllerGroupNames as string;
  assert.equal(groups.split(",").length, size);
  const seen = await world.aws<Reservations>([
    "ec2",
    "describe-instances",
    "--filters",
    `Name=tag:aws:autoscaling:groupName,Values=${groups}`,
    "Name=instance-state-name,Values=running",
  ]);
  const instances = seen.Reservations.flatMap((r) => r.Instances);
  assert.equal(instances.length, size);
  const byId = new Map(instances.map((i) => [i.InstanceId, i]));
  for (const node of cluster.nodes) {
    const instance = byId.get(node.instance_id);
    assert.ok(instance, `${node.instance_id} is in the group`);
    assert.equal(node.private_ip, instance.PrivateIpAddress);
    assert.equal(node.public_ip, instance.PublicIpAddress ?? null);
  }

  // Static membership: no discovery URL (the config's discovery service is not asked: see create).
  assert.equal(cluster.discovery_url, null);
  // Spread over the three zones, one controller per zone at most ceil(size / 3).
  const perZone = new Map<string, number>();
  for (const node of cluster.nodes)
    perZone.set(node.availability_zone, (perZone.get(node.availability_zone) ?? 0) + 1);
  assert.equal(perZone.size, 3);
  assert.ok([...perZone.values()].every((n) => n < size / 2 + 0.5 && n <= Math.ceil(size / 3)));

  // The DNS names exist in the private zone and point at the nodes.
  const zoneId = cluster.dns?.private_zone_id ?? "";
  const sets = await world.aws<{
    ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
  }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId]);
  const records = new Map(
    sets.ResourceRecordSets.filter((s) => s.Type === "A" && !/^etcd-\d+\./.test(s.Name)).map((s) => [
      s.Name.replace(/\.$/, ""),
      (s.ResourceRecords ?? []).map((r) => r.Value).sort(),
    ]),
  );
  const zone = `${cluster.stack_name}.cluster`;
  assert.equal(cluster.dns?.private_zone, zone);
  const privateIps = cluster.nodes.map((n) => n.private_ip as string);
  cluster.nodes.forEach((node, i) => {
    assert.deepEqual(records.get(`node-${i + 1}.${zone}`), [node.private_ip]);
  });
  // etcd.<zone> lists members that say they are healthy: no node runs in moto to say so.
  assert.equal(records.get(`etcd.${zone}`), undefined);
  void privateIps;
  assert.equal(records.size, size);
  // The stack's placeholder per slot (etcd-<i>.<zone>), made before any node boots.
  const slots = sets.ResourceRecordSets.filter((s) => /^etcd-\d+\./.test(s.Name) && s.Type === "A");
  assert.equal(slots.length, size);
  const hosted = await world.aws<{
    HostedZone: { Config: { PrivateZone: boolean } };
    VPCs: { VPCId: string }[];
  }>(["route53", "get-hosted-zone", "--id", zoneId]);
  assert.equal(hosted.HostedZone.Config.PrivateZone, true);
  const vpc = (result.details.formation as { outputs: Record<string, string> }).outputs.VpcId;
  assert.deepEqual(
    hosted.VPCs.map((v) => v.VPCId),
    [vpc],
  );
}

/** After destroy: the stack DELETE_COMPLETE (by id), the instances terminated, the zone gone. */
async function checkGone(result: ClusterResult): Promise<void> {
  const stacks = await world.aws<{ Stacks: { StackStatus: string }[] }>([
    "cloudformation",
    "describe-stacks",
    "--stack-name",
    result.cluster.stack_id ?? "",
  ]);
  assert.equal(stacks.Stacks[0]?.StackStatus, "DELETE_COMPLETE");
  const ids = result.cluster.nodes.map((n) => n.instance_id);
  const seen = await world.aws<Reservations>(["ec2", "describe-instances", "--instance-ids", ...ids]);
  for (const instance of seen.Reservations.flatMap((r) => r.Instances)) {
    assert.equal(instance.State.Name, "terminated", instance.InstanceId);
  }
  const zones = await world.aws<{ HostedZones: { Id: string }[] }>(["route53", "list-hosted-zones"]);
  assert.deepEqual(zones.HostedZones, []);
}

describe("create → status → list → destroy", () => {
  for (const size of [3, 7]) {
    it(`a ${size}-node cluster`, async () => {
      const name = `c${size}`;
      const created = await world.cliJson<ClusterResult>([
        "create",
        "-n",
        name,
        "-k",
        "k1",
        "-s",
        String(size),
      ]);
      assert.equal(created.run.code, 0, created.run.stderr);
      await checkCluster(created.json, size);
      assert.match(
        created.run.stderr,
        /\[\s*\d+\.\ds\] launch {5}CreateStack accepted/,
        "progress on stderr",
      );

      const status = await world.cliJson<StatusResult>(["status", "-n", name]);
      assert.equal(status.run.code, 0, status.run.stderr);
      assert.equal(status.json.stack_status, "CREATE_COMPLETE");
      assert.deepEqual(
        status.json.nodes.map((n) => n.instance_id).sort(),
        created.json.cluster.nodes.map((n) => n.instance_id).sort(),
      );
      assert.equal(status.json.dns?.private_zone_id, created.json.cluster.dns?.private_zone_id);
      assert.equal(status.json.cluster_size, size);

      const listed = await world.cliJson<ListResult>(["list"]);
      assert.equal(listed.run.code, 0, listed.run.stderr);
      assert.deepEqual(
        listed.json.clusters.map((c) => [c.stack_name, c.stack_status, c.cluster_size]),
        [[name, "CREATE_COMPLETE", size]],
      );

      const destroyed = await world.cliJson<DestroyResult>(["destroy", "-n", name]);
      assert.equal(destroyed.run.code, 0, destroyed.run.stderr);
      assert.equal(destroyed.json.status, "success");
      assert.equal(destroyed.json.already_gone, false);
      assert.match(destroyed.run.stderr, /destroy +\S+ +DELETE_COMPLETE/);
      assert.doesNotMatch(destroyed.run.stderr, /destroy +\S+ +CREATE_/, "only the deletion's events");
      await checkGone(created.json);

      const again = await world.cli(["destroy", "-n", name]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`cluster ${name} was already deleted`));
    });
  }
});

describe("human output", () => {
  it("create prints a summary with the node table on stdout and progress lines (no spinner) on stderr", async () => {
    const created = await world.cli(["create", "-n", "people", "-k", "k1"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /^Cluster people is ready in us-east-1 in \d+\.\ds: 3 nodes, Flatcar stable amd64, t3\.small\./,
    );
    assert.match(created.stdout, /NAME +ROLE +INSTANCE +ZONE +PRIVATE IP +PUBLIC IP/);
    assert.equal((created.stdout.match(/node-\d\.people\.cluster +controller +i-/g) ?? []).length, 3);
    assert.ok(!/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/.test(created.stderr), "no spinner when stderr is not a terminal");
    assert.ok(!created.stderr.includes("\r"), "no in-place updates either");
    for (const step of ["launch", "formation", "nodes", "customize"]) {
      assert.match(created.stderr, new RegExp(`^\\[ *\\d+\\.\\ds\\] ${step}`, "m"));
    }

    const status = await world.cli(["status", "-n", "people"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^people {2}CREATE_COMPLETE {2}us-east-1/);
    assert.equal((status.stdout.match(/node-\d\.people\.cluster/g) ?? []).length, 3);

    const listed = await world.cli(["list"]);
    assert.match(listed.stdout, /people +CREATE_COMPLETE +3 +stable +amd64/);
  });
});

describe("where AWS is", () => {
  it("--profile gives the credentials and the region; --region wins over it", async () => {
    const files = join(world.dir, "aws");
    mkdirSync(files, { recursive: true });
    writeFileSync(
      join(files, "config"),
      "[profile work]\nregion = eu-west-1\n[profile bare]\noutput = json\n",
    );
    writeFileSync(
      join(files, "credentials"),
      "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s\n",
    );
    const env = {
      AWS_CONFIG_FILE: join(files, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(files, "credentials"),
      // Unset (spawn leaves out variables whose value is undefined).
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
    };
    const fromProfile = await world.cliJson<ListResult>(["list", "--profile", "work"], { env });
    assert.equal(fromProfile.run.code, 0, fromProfile.run.stderr);
    assert.equal(fromProfile.json.region, "eu-west-1");
    const overridden = await world.cliJson<ListResult>(["list", "--profile", "work", "-r", "ap-south-1"], {
      env,
    });
    assert.equal(overridden.json.region, "ap-south-1");
    const none = await world.cli(["list", "--profile", "bare"], { env });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no AWS region/);
    const unknown = await world.cli(["list", "--profile", "nobody"], { env });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(
      unknown.stderr,
      /AWS profile "nobody" does not exist in the shared config\/credentials files/,
    );
  });
});

describe("wait", () => {
  it("re-attaches to a complete stack and finishes it again without a second zone", async () => {
    const created = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "again",
      "-k",
      "k1",
      // The discovery URL is read back from the stack: the discovery mode's.
      "--etcd-bootstrap",
      "discovery",
    ]);
    assert.equal(created.run.code, 0, created.run.stderr);
    const waited = await world.cliJson<ClusterResult>(["wait", "-n", "again"]);
    assert.equal(waited.run.code, 0, waited.run.stderr);
    assert.equal(waited.json.status, "success");
    assert.equal(waited.json.cluster.dns?.private_zone_id, created.json.cluster.dns?.private_zone_id);
    assert.equal(
      waited.json.cluster.discovery_url,
      created.json.cluster.discovery_url,
      "read back from the stack",
    );
    const zones = await world.aws<{ HostedZones: unknown[] }>(["route53", "list-hosted-zones"]);
    assert.equal(zones.HostedZones.length, 1);
  });

  it("after destroy --no-wait, says the cluster is deleted", async () => {
    assert.equal((await world.cli(["create", "-n", "nowait", "-k", "k1"])).code, 0);
    const started = await world.cliJson<DestroyResult>(["destroy", "-n", "nowait", "--no-wait"]);
    assert.equal(started.run.code, 0, started.run.stderr);
    assert.match(started.json.message, /follow it with: pandacluster wait -n nowait -r us-east-1/);
    const waited = await world.cliJson<DestroyResult>(["wait", "-n", "nowait"]);
    assert.equal(waited.run.code, 0, waited.run.stderr);
    assert.equal(waited.json.already_gone, true);
  });
});

describe("--public-domain", () => {
  it("names the nodes' public addresses in the existing public zone, and destroy removes the name", async () => {
    const zone = await world.aws<{ HostedZone: { Id: string } }>([
      "route53",
      "create-hosted-zone",
      "--name",
      "example.com",
      "--caller-reference",
      "test-public",
    ]);
    const zoneId = zone.HostedZone.Id.replace("/hostedzone/", "");
    const created = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "pub",
      "-k",
      "k1",
      "--public-domain",
      "example.com",
    ]);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.equal(created.json.cluster.dns?.public_name, "pub.example.com");
    const publicIps = created.json.cluster.nodes
      .map((n) => n.public_ip)
      .filter(Boolean)
      .sort();
    assert.equal(publicIps.length, 3);
    const records = async () =>
      (
        await world.aws<{
          ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
        }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId])
      ).ResourceRecordSets.filter((s) => s.Type === "A");
    const named = await records();
    assert.equal(named.length, 1);
    assert.equal(named[0]?.Name, "pub.example.com.");
    assert.deepEqual((named[0]?.ResourceRecords ?? []).map((r) => r.Value).sort(), publicIps);

    const destroyed = await world.cliJson<DestroyResult>(["destroy", "-n", "pub"]);
    assert.equal(destroyed.run.code, 0, destroyed.run.stderr);
    assert.ok(destroyed.json.removed.includes("public record pub.example.com"));
    assert.deepEqual(await records(), []);
    const zones = await world.aws<{ HostedZones: { Name: string }[] }>(["route53", "list-hosted-zones"]);
    assert.deepEqual(
      zones.HostedZones.map((z) => z.Name),
      ["example.com."],
      "the user's public zone stays",
    );
  });
});
