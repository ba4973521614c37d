/**
 * The API server's scale (PATCH /clusters/{name}) and DNS reconciler with the real library, on the
 * moto emulator with AWS's pace (pandacluster_moto's PANDACLUSTER_MOTO_PACE_MS) and a local etcd
 * discovery service; what the server says is checked with the AWS CLI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import { type Discovery, isolatedAwsProcessEnv, type Moto } from "../helpers/services.js";
import { eventually, type TestServer, testServer } from "./helpers.js";

const run = promisify(execFile);
const PACE_MS = 3000;
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
  services = await startAwsServices({ moto: { paceMs: PACE_MS } });
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

/** The zone's node-<i> records as ip → name, and etcd's values. */
async function names(zoneId: string, zone: string): Promise<{ byIp: Map<string, string>; etcd: string[] }> {
  const sets = await aws<{
    ResourceRecordSets: { Name: string; Type: string; ResourceRecords?: { Value: string }[] }[];
  }>(["route53", "list-resource-record-sets", "--hosted-zone-id", zoneId]);
  const byIp = new Map<string, string>();
  let etcd: string[] = [];
  for (const set of sets.ResourceRecordSets.filter((s) => s.Type === "A")) {
    const name = set.Name.replace(/\.$/, "");
    const values = (set.ResourceRecords ?? []).map((r) => r.Value);
    if (name === `etcd.${zone}`) etcd = values.sort();
    else if (name.startsWith("node-")) byIp.set(values[0] as string, name);
  }
  return { byIp, etcd };
}

/** The private addresses of the groups' InService instances, as the AWS CLI sees them. */
async function inService(): Promise<string[]> {
  const groups = await aws<{
    AutoScalingGroups: { Instances: { InstanceId: string; LifecycleState: string }[] }[];
  }>(["autoscaling", "describe-auto-scaling-groups"]);
  const ids = groups.AutoScalingGroups.flatMap((g) => g.Instances)
    .filter((i) => i.LifecycleState === "InService")
    .map((i) => i.InstanceId);
  const answer = await aws<{ Reservations: { Instances: { PrivateIpAddress: string }[] }[] }>([
    "ec2",
    "describe-instances",
    "--instance-ids",
    ...ids,
  ]);
  return answer.Reservations.flatMap((r) => r.Instances.map((i) => i.PrivateIpAddress)).sort();
}

describe("API server: scale and the DNS reconciler (paced emulator)", () => {
  it("PATCH → 202, a job, its events, the final state; 404 for another profile; the reconciler fixes names by itself", async () => {
    const t = await testServer({
      pollIntervalMs: 200,
      reconcileMs: 500,
      env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url },
    });
    try {
      const alice = await t.profile("alice");
      const bob = await t.profile("bob");
      const created = await t.server.app.inject({
        method: "POST",
        url: "/clusters",
        headers: alice,
        payload: { stack_name: "grow", key_pair: "k", workers: 1, discovery_service: discovery.url },
      });
      assert.equal(created.statusCode, 202, created.body);
      const online = await eventually(
        async () => {
          const got = await get(t, alice, "/clusters/grow");
          return ["online", "failed"].includes(got.status) ? got : undefined;
        },
        60_000,
        "grow online",
      );
      assert.equal(online.status, "online", JSON.stringify(online.reasons));
      assert.equal(online.result.cluster.nodes.length, 4);
      assert.deepEqual(online.result.cluster.nodes.map((n: Json) => n.role).sort(), [
        "controller",
        "controller",
        "controller",
        "worker",
      ]);

      // Another profile's cluster is not there for bob; bad bodies are 400.
      const notHis = await t.server.app.inject({
        method: "PATCH",
        url: "/clusters/grow",
        headers: bob,
        payload: { workers: 3 },
      });
      assert.equal(notHis.statusCode, 404, notHis.body);
      for (const [payload, message] of [
        [{ workers: 101 }, /workers: 101 is out of range/],
        [{ workers: "3" }, /workers: "3" is not an integer/],
        [{}, /workers: is required/],
        [{ workers: 3, cluster_size: 5 }, /etcd's membership is fixed/],
        // Not an object: said so, never spread into "0: unknown option" or "workers: is required".
        [[], /^the request body must be a JSON object$/],
        ["x", /^the request body must be a JSON object$/],
        [{ workers: 3, x: { y: 1 } }, /x: unknown option/],
      ] as const) {
        const bad = await t.server.app.inject({
          method: "PATCH",
          url: "/clusters/grow",
          headers: { ...alice, "content-type": "application/json" },
          payload: JSON.stringify(payload),
        });
        assert.equal(bad.statusCode, 400, bad.body);
        assert.match(bad.json().messages.join("\n"), message);
      }

      const patched = await t.server.app.inject({
        method: "PATCH",
        url: "/clusters/grow",
        headers: alice,
        payload: { workers: 3 },
      });
      assert.equal(patched.statusCode, 202, patched.body);
      assert.equal(patched.headers.location, "/clusters/grow/scale");
      const job = patched.json().job;
      assert.equal(job.state, "running");
      const again = await t.server.app.inject({
        method: "PATCH",
        url: "/clusters/grow",
        headers: alice,
        payload: { workers: 2 },
      });
      assert.equal(again.statusCode, 409, "one scale at a time");
      const done = await eventually(
        async () => {
          const state = await get(t, alice, "/clusters/grow/scale");
          return state.state === "running" ? undefined : state;
        },
        60_000,
        "the scale to end",
      );
      assert.equal(done.state, "succeeded", done.message);
      const events: Json[] = await get(t, alice, "/clusters/grow/events");
      const mine = events.filter((e) => e.job === job.id).map((e) => e.message);
      assert.ok(
        mine.some((m) => /UpdateStack accepted: workers 1 → 3/.test(m)),
        mine.join("\n"),
      );
      assert.ok(
        mine.some((m) => /UPDATE_IN_PROGRESS/.test(m)),
        "the update's stack events",
      );
      assert.equal(mine.at(-1), "scale to 3 workers succeeded");
      const after = await get(t, alice, "/clusters/grow");
      assert.equal(after.status, "online");
      assert.equal(after.result.cluster.workers, 3);
      assert.equal(after.result.cluster.nodes.length, 6);
      const zoneId = after.result.cluster.dns.private_zone_id;
      const before = await names(zoneId, "grow.cluster");
      assert.deepEqual([...before.byIp.keys()].sort(), await inService());

      // An instance terminated behind the server's back: the reconciler renames it by itself.
      const groups = await aws<{
        AutoScalingGroups: { AutoScalingGroupName: string; Instances: { InstanceId: string }[] }[];
      }>(["autoscaling", "describe-auto-scaling-groups"]);
      const victim = groups.AutoScalingGroups.find((g) => g.AutoScalingGroupName.includes("WorkerGroup"))
        ?.Instances[0]?.InstanceId as string;
      await aws([
        "autoscaling",
        "terminate-instance-in-auto-scaling-group",
        "--instance-id",
        victim,
        "--no-should-decrement-desired-capacity",
      ]);
      const fixed = await eventually(
        async () => {
          const messages: string[] = (await get(t, alice, "/clusters/grow/events")).map(
            (e: Json) => e.message,
          );
          const reconciled = messages.filter((m) => m.startsWith("reconcile: "));
          return reconciled.some((m) => / → /.test(m)) ? reconciled : undefined;
        },
        60_000,
        "a reconcile event",
      );
      assert.ok(fixed.length >= 1);
      const now = await eventually(
        async () => {
          const held = await names(zoneId, "grow.cluster");
          const live = await inService();
          return JSON.stringify([...held.byIp.keys()].sort()) === JSON.stringify(live) && live.length === 6
            ? held
            : undefined;
        },
        60_000,
        "the names to follow the group",
      );
      // The survivors kept their names; the new instance took the freed one.
      assert.deepEqual([...now.byIp.values()].sort(), [...before.byIp.values()].sort());
      assert.deepEqual(now.etcd, before.etcd);
    } finally {
      await t.close();
    }
  });
});
