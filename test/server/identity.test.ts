/**
 * Day-2 paths act on the cluster's own stack (the StackId its create returned) and on the groups that
 * stack owns, never on a name or a tag (issue 14, High 1): the API server, the real library, the
 * moto emulator (pandacluster_moto fixes), a local etcd discovery service; read back with the AWS CLI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { AutoScalingClient, CreateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { create, destroy } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import { type Discovery, isolatedAwsProcessEnv, type Moto } from "../helpers/services.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

const run = promisify(execFile);
let moto: Moto;
let discovery: Discovery;
let services: AwsServices;

async function aws<T>(args: string[]): Promise<T> {
  const { stdout } = await run("aws", [...args, "--output", "json"], {
    env: { ...isolatedAwsProcessEnv(moto.endpoint), HOME: "/nonexistent" },
  });
  return JSON.parse(stdout) as T;
}

before(async () => {
  services = await startAwsServices();
  ({ moto, discovery } = services);
});
after(async () => {
  await services?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: the test reads the fields it checks
type Json = any;

async function get(t: TestServer, headers: Record<string, string>, url: string): Promise<Json> {
  return (await t.server.app.inject({ method: "GET", url, headers })).json();
}

async function online(t: TestServer, headers: Record<string, string>, name: string): Promise<Json> {
  const created = await t.server.app.inject({
    method: "POST",
    url: "/clusters",
    headers,
    payload: { stack_name: name, key_pair: "k", workers: 1, discovery_service: discovery.url },
  });
  assert.equal(created.statusCode, 202, created.body);
  const got = await eventually(
    async () => {
      const c = await get(t, headers, `/clusters/${name}`);
      return ["online", "failed"].includes(c.status) ? c : undefined;
    },
    60_000,
    `${name} online`,
  );
  assert.equal(got.status, "online", JSON.stringify(got.reasons));
  return got;
}

/** Every record set of the zone, as the AWS CLI lists it (name, type, values). */
async function zoneRecords(zoneId: string): Promise<string[]> {
  const sets = await aws<{
    ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
  }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId]);
  return sets.ResourceRecordSets.filter((s) => s.Type === "A")
    .map((s) => `${s.Name} ${(s.ResourceRecords ?? []).map((r) => r.Value).sort()}`)
    .sort();
}

async function stackOf(name: string): Promise<{ StackId: string; Parameters: Json[] }> {
  const answer = await aws<{ Stacks: { StackId: string; Parameters: Json[] }[] }>([
    "cloudformation",
    "describe-stacks",
    "--stack-name",
    name,
  ]);
  return answer.Stacks[0] as { StackId: string; Parameters: Json[] };
}

describe("day-2 identity: the cluster's own StackId and the groups its stack owns", () => {
  it("a stack deleted outside and re-created by the CLI under the same name: PATCH is refused (409), the reconciler never touches it", async () => {
    const t = await testServer({
      pollIntervalMs: 50,
      reconcileMs: 3_600_000,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const mine = await online(t, alice, "twin");
      const ownId = mine.result.cluster.stack_id as string;
      assert.match(ownId, /^arn:aws:cloudformation:/);

      // Outside the server: the stack is deleted, and the CLI's library makes another of that name.
      const gone = await destroy(undefined, { stack_name: "twin" });
      assert.equal(gone.status, "success", gone.message);
      const theirs = await create(undefined, {
        stack_name: "twin",
        key_pair: "k",
        workers: 1,
        discovery_service: discovery.url,
      });
      assert.equal(theirs.status, "success", theirs.message);
      const foreignId = (await stackOf("twin")).StackId;
      assert.notEqual(foreignId, ownId);
      const foreignZone = theirs.cluster.dns?.private_zone_id as string;
      const recordsBefore = await zoneRecords(foreignZone);

      const patched = await t.server.app.inject({
        method: "PATCH",
        url: "/clusters/twin",
        headers: alice,
        payload: { workers: 3 },
      });
      assert.equal(patched.statusCode, 409, patched.body);
      assert.match(patched.json().messages.join("\n"), /replaced outside pandacluster/);
      assert.match(patched.json().messages.join("\n"), new RegExp(foreignId.replace(/[/.]/g, "\\$&")));
      const workers = (await stackOf("twin")).Parameters.find((p) => p.ParameterKey === "Workers");
      assert.equal(workers.ParameterValue, "1", "the CLI's stack was not updated");
      const record = await get(t, alice, "/clusters/twin");
      assert.match(record.reasons.join("\n"), /replaced outside pandacluster/);

      // Issue 17: an upgrade (and its dry run) is refused the same way; the CLI's stack keeps its image.
      const imageBefore = (await stackOf("twin")).Parameters.find((p) => p.ParameterKey === "ImageId");
      for (const payload of [{ image_id: "ami-84380cf42e2ae29d6" }, { dry_run: true }]) {
        const upgraded = await t.server.app.inject({
          method: "POST",
          url: "/clusters/twin/upgrade",
          headers: alice,
          payload,
        });
        assert.equal(upgraded.statusCode, 409, upgraded.body);
        assert.match(upgraded.json().messages.join("\n"), /replaced outside pandacluster/);
      }
      const imageAfter = (await stackOf("twin")).Parameters.find((p) => p.ParameterKey === "ImageId");
      assert.deepEqual(imageAfter, imageBefore, "the CLI's stack was not upgraded");
      const noJob = await t.server.app.inject({
        method: "GET",
        url: "/clusters/twin/upgrade",
        headers: alice,
      });
      assert.equal(noJob.statusCode, 404, noJob.body);

      // The reconciler: nothing written in the foreign stack's zone, no names logged as alice's.
      const cycle = await t.server.reconciler.runOnce();
      assert.equal(cycle.synced, 0, JSON.stringify(cycle));
      assert.deepEqual(await zoneRecords(foreignZone), recordsBefore);
      const messages = await t.eventMessages(alice, "twin");
      assert.ok(!messages.some((m) => /^reconcile: .*→/.test(m)), messages.join("\n"));
      assert.ok(
        messages.some((m) => /^reconcile: .*replaced outside pandacluster/.test(m)),
        messages.join("\n"),
      );

      // DELETE removes only what is the cluster's: its stack is gone, the CLI's stack stays.
      const deleted = await t.server.app.inject({ method: "DELETE", url: "/clusters/twin", headers: alice });
      assert.ok([200, 202].includes(deleted.statusCode), deleted.body);
      await t.clusterWhen(alice, "twin", "deleted");
      assert.equal((await stackOf("twin")).StackId, foreignId);
    } finally {
      await t.close();
    }
  });

  it("a stack deleted outside and not re-created: PATCH and sync are refused (409), the record says so", async () => {
    const t = await testServer({
      pollIntervalMs: 50,
      reconcileMs: 3_600_000,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const mine = await online(t, alice, "lost");
      const gone = await destroy(undefined, { stack_name: "lost" });
      assert.equal(gone.status, "success", gone.message);
      for (const [method, url, payload] of [
        ["PATCH", "/clusters/lost", { workers: 2 }],
        ["POST", "/clusters/lost/sync", {}],
      ] as const) {
        const refused = await t.server.app.inject({ method, url, headers: alice, payload });
        assert.equal(refused.statusCode, 409, refused.body);
        assert.match(refused.json().messages.join("\n"), /was deleted: nothing to act on/);
        assert.ok(refused.body.includes(mine.result.cluster.stack_id), refused.body);
      }
      assert.match((await get(t, alice, "/clusters/lost")).reasons.join("\n"), /was deleted/);
    } finally {
      await t.close();
    }
  });

  it("an Auto Scaling group tagged as the cluster's controllers, in another VPC, is never adopted (never in etcd.<zone>)", async () => {
    const t = await testServer({
      pollIntervalMs: 50,
      reconcileMs: 3_600_000,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const cluster = await online(t, alice, "held");
      const zoneId = cluster.result.cluster.dns.private_zone_id as string;
      const first = await t.server.reconciler.runOnce();
      assert.equal(first.failures, 0, JSON.stringify(first));
      const before = await zoneRecords(zoneId);

      // Anyone's group, in a VPC of its own, tagged like the cluster's controllers.
      const ec2 = new EC2Client({});
      const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.99.0.0/16" }));
      const subnet = await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc.Vpc?.VpcId,
          CidrBlock: "10.99.1.0/24",
          AvailabilityZone: "us-east-1a",
        }),
      );
      await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: "intruder",
          LaunchTemplateData: { ImageId: "ami-12c6146b", InstanceType: "t3.micro" },
        }),
      );
      await new AutoScalingClient({}).send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: "intruder",
          LaunchTemplate: { LaunchTemplateName: "intruder" },
          MinSize: 1,
          MaxSize: 1,
          DesiredCapacity: 1,
          VPCZoneIdentifier: subnet.Subnet?.SubnetId,
          Tags: [
            { Key: "pandacluster:cluster", Value: "held", PropagateAtLaunch: true },
            { Key: "pandacluster:role", Value: "controller", PropagateAtLaunch: true },
          ],
        }),
      );
      const intruder = await aws<{ AutoScalingGroups: { Instances: { InstanceId: string }[] }[] }>([
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        "intruder",
      ]);
      const intruderId = intruder.AutoScalingGroups[0]?.Instances[0]?.InstanceId as string;
      assert.ok(intruderId, "the intruder group has an instance");
      const described = await aws<{ Reservations: { Instances: { PrivateIpAddress: string }[] }[] }>([
        "ec2",
        "describe-instances",
        "--instance-ids",
        intruderId,
      ]);
      const intruderIp = described.Reservations[0]?.Instances[0]?.PrivateIpAddress as string;
      assert.match(intruderIp, /^10\.99\./);

      const cycle = await t.server.reconciler.runOnce();
      assert.equal(cycle.failures, 0, JSON.stringify(cycle));
      const after = await zoneRecords(zoneId);
      assert.deepEqual(after, before, "the zone is as the cluster's own groups make it");
      assert.ok(!after.some((r) => r.includes(intruderIp)), after.join("\n"));
      const messages = await t.eventMessages(alice, "held");
      assert.ok(!messages.some((m) => m.startsWith("reconcile: ")), messages.join("\n"));
    } finally {
      await t.close();
    }
  });

  it("a public name another cluster owns is refused up front (400), naming the owner only to its own profile", async () => {
    const t = await testServer({
      pollIntervalMs: 50,
      reconcileMs: 3_600_000,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      await aws([
        "route53",
        "create-hosted-zone",
        "--name",
        "example.net",
        "--caller-reference",
        "identity-net",
      ]);
      const alice = await t.profile("alice");
      const bob = await t.profile("bob");
      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: {
          stack_name: "site",
          key_pair: "k",
          public_domain: "example.net",
          discovery_service: discovery.url,
        },
      });
      assert.equal(created.statusCode, 202, created.body);
      const up = await t.clusterWhen(alice, "site", "online");
      assert.equal(up.result.cluster.dns.public_name, "site.example.net");

      const again = (headers: Record<string, string>) =>
        t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers,
          payload: {
            stack_name: "site",
            key_pair: "k",
            region: "us-west-2",
            public_domain: "example.net",
            discovery_service: discovery.url,
          },
        });
      const hers = await again(alice);
      assert.equal(hers.statusCode, 400, hers.body);
      assert.match(
        hers.json().messages.join("\n"),
        /public_domain: the public name site\.example\.net is already taken by cluster site in us-east-1/,
      );
      const his = await again(bob);
      assert.equal(his.statusCode, 400, his.body);
      assert.match(his.json().messages.join("\n"), /already taken by another cluster; choose another name/);
      assert.ok(!his.body.includes("us-east-1"), his.body);
      for (const headers of [alice, bob]) {
        const none = await t.server.app.inject({
          method: "GET",
          url: "/clusters/site?region=us-west-2",
          headers,
        });
        assert.equal(none.statusCode, 404, "no record was made");
      }
    } finally {
      await t.close();
    }
  });

  it("sync --server goes to the server: it syncs with the profile's credentials, the CLI has none", async () => {
    const t = await testServer({
      pollIntervalMs: 50,
      reconcileMs: 3_600_000,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    await t.server.app.listen({ host: "127.0.0.1", port: 0 });
    const address = t.server.app.server.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    try {
      const alice = await t.profile("alice");
      await online(t, alice, "remote");
      // No AWS credentials and an endpoint where nothing listens: a local sync could not even start.
      const env: NodeJS.ProcessEnv = { HOME: "/nonexistent", PATH: process.env.PATH };
      Object.assign(env, {
        PANDACLUSTER_TOKEN: alice.authorization.slice("Bearer ".length),
        AWS_ENDPOINT_URL: "http://127.0.0.1:9",
        AWS_REGION: "us-east-1",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        AWS_EC2_METADATA_DISABLED: "true",
      });
      const same = await runCli(["sync", "-n", "remote", "--server", url], { env });
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /the names of remote are right: nothing to change/);

      const groups = await aws<{
        AutoScalingGroups: { AutoScalingGroupName: string; Instances: { InstanceId: string }[] }[];
      }>(["autoscaling", "describe-auto-scaling-groups"]);
      const victim = groups.AutoScalingGroups.find(
        (g) => g.AutoScalingGroupName.startsWith("remote-") && g.AutoScalingGroupName.includes("WorkerGroup"),
      )?.Instances[0]?.InstanceId as string;
      await aws([
        "autoscaling",
        "terminate-instance-in-auto-scaling-group",
        "--instance-id",
        victim,
        "--no-should-decrement-desired-capacity",
      ]);
      const changed = await runCli(["sync", "-n", "remote", "--server", url, "--json"], { env });
      assert.equal(changed.code, 0, changed.stderr);
      const result = JSON.parse(changed.stdout);
      assert.equal(result.status, "success");
      assert.ok(result.changes.length >= 1, changed.stdout);
      const messages = await t.eventMessages(alice, "remote");
      assert.ok(
        messages.some((m) => m.startsWith("sync: ")),
        messages.join("\n"),
      );
      const missing = await runCli(["sync", "-n", "nope", "--server", url], { env });
      assert.equal(missing.code, 1, missing.stderr);
      assert.match(missing.stderr, /no cluster named nope/);
    } finally {
      await t.close();
    }
  });
});
