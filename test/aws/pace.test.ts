/**
 * pandacluster_moto's pace (PANDACLUSTER_MOTO_PACE_MS) and its UpdateStack fixes, seen through the
 * AWS CLI as an independent client, on the template the tool builds: stacks stay *_IN_PROGRESS for
 * the set time with their events spread over it in dependency order, instances go pending →
 * running, an UpdateStack of the group's size keeps the group and its instances (in place).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  UpdateStackCommand,
} from "@aws-sdk/client-cloudformation";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { runCli } from "../helpers/cli.js";
import { flatcarAmisFixture, isolatedAwsProcessEnv, type Moto, startMoto } from "../helpers/services.js";

const run = promisify(execFile);
// The in-progress phase is watched with SDK clients (the AWS CLI takes seconds per call on a
// loaded machine); what is left in the end is checked with the AWS CLI.
const PACE_MS = 5_000;
let moto: Moto;
let dir: string;
let templateBody: string;
let cfn: CloudFormationClient;
let ec2: EC2Client;
let autoscaling: AutoScalingClient;

async function aws<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const { stdout } = await run("aws", [...args, "--output", "json"], {
    env: { ...isolatedAwsProcessEnv(moto.endpoint), HOME: dir },
  });
  return (stdout.trim() ? JSON.parse(stdout) : {}) as T;
}

interface Event {
  LogicalResourceId: string;
  ResourceStatus: string;
  Timestamp: string;
  ClientRequestToken?: string;
}

async function events(stack: string): Promise<Event[]> {
  const answer = await cfn.send(new DescribeStackEventsCommand({ StackName: stack }));
  return (answer.StackEvents ?? []).reverse().map((e) => ({
    LogicalResourceId: e.LogicalResourceId ?? "",
    ResourceStatus: e.ResourceStatus ?? "",
    Timestamp: e.Timestamp?.toISOString() ?? "",
    ...(e.ClientRequestToken ? { ClientRequestToken: e.ClientRequestToken } : {}),
  })); // oldest first
}

async function stackStatus(stack: string): Promise<string> {
  const answer = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  return answer.Stacks?.[0]?.StackStatus ?? "";
}

async function instancesIn(state: string): Promise<number> {
  const answer = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: [state] }] }),
  );
  return (answer.Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  moto = await startMoto({ amisPath: flatcarAmisFixture(), paceMs: PACE_MS });
  const config = {
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  cfn = new CloudFormationClient(config);
  ec2 = new EC2Client(config);
  autoscaling = new AutoScalingClient(config);
  dir = mkdtempSync(join(tmpdir(), "pandacluster-pace-"));
  const path = join(dir, "template.json");
  // The discovery mode's template (one controller group): the pace, not etcd, is under test.
  const built = await runCli(["build-template", "--offline", "--etcd-bootstrap", "discovery", "-p", path]);
  assert.equal(built.code, 0, built.stderr);
  templateBody = readFileSync(path, "utf8");
});
after(async () => {
  for (const client of [cfn, ec2, autoscaling]) client?.destroy();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("pandacluster_moto pace", () => {
  it("keeps a stack CREATE_IN_PROGRESS for the pace, events in dependency order, instances pending first", async () => {
    const started = Date.now();
    await cfn.send(
      new CreateStackCommand({
        StackName: "paced",
        TemplateBody: templateBody,
        ClientRequestToken: "tok-create",
        Parameters: Object.entries({
          KeyPair: "k1",
          ImageId: "ami-84380cf42e2ae29d6",
          DiscoveryURL: "http://127.0.0.1:1/abc",
          PrivateDomain: "paced.cluster",
          ClusterSize: "3",
          Workers: "2",
        }).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
      }),
    );
    assert.equal(await stackStatus("paced"), "CREATE_IN_PROGRESS");
    const early = await events("paced");
    assert.ok(early.length >= 1 && early.length < 20, `few events so far: ${early.length}`);
    assert.equal(early[0]?.ResourceStatus, "CREATE_IN_PROGRESS");

    // Group instances exist but are pending (and Pending in the group) before they run.
    assert.equal(await instancesIn("pending"), 5);
    assert.equal(await instancesIn("running"), 0);
    const lifecycle = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({}))
    ).AutoScalingGroups?.flatMap((g) => g.Instances ?? []).map((i) => i.LifecycleState);
    assert.deepEqual(lifecycle, ["Pending", "Pending", "Pending", "Pending", "Pending"]);

    await until(async () => (await stackStatus("paced")) === "CREATE_COMPLETE", PACE_MS + 10_000);
    assert.ok(Date.now() - started >= PACE_MS - 200, "took the pace");
    const all = await events("paced");
    const last = all.at(-1);
    assert.equal(last?.LogicalResourceId, "paced");
    assert.equal(last?.ResourceStatus, "CREATE_COMPLETE");
    const span = Date.parse(last?.Timestamp ?? "") - Date.parse(all[0]?.Timestamp ?? "");
    assert.ok(Math.abs(span - PACE_MS) < 300, `events spread over the pace (${span} ms)`);
    for (const e of all) assert.equal(e.ClientRequestToken, "tok-create");
    // Dependency order: each resource completes after what it refers to.
    const completed = all
      .filter((e) => e.ResourceStatus === "CREATE_COMPLETE")
      .map((e) => e.LogicalResourceId);
    const at = (id: string) => completed.indexOf(id);
    assert.ok(at("VPC") < at("SubnetA") && at("SubnetA") < at("AutoScalingGroup"), completed.join(","));
    assert.ok(at("LaunchTemplate") < at("AutoScalingGroup"), completed.join(","));
    // Each resource's IN_PROGRESS comes just before its COMPLETE.
    all.forEach((e, i) => {
      if (e.ResourceStatus === "CREATE_COMPLETE" && e.LogicalResourceId !== "paced") {
        assert.equal(all[i - 1]?.LogicalResourceId, e.LogicalResourceId);
        assert.equal(all[i - 1]?.ResourceStatus, "CREATE_IN_PROGRESS");
      }
    });
    const running = await aws<{ Reservations: { Instances: unknown[] }[] }>([
      "ec2",
      "describe-instances",
      "--filters",
      "Name=instance-state-name,Values=running",
    ]);
    assert.equal(running.Reservations.flatMap((r) => r.Instances).length, 5);
  });

  it("updates the workers' group in place, paced, refusing a second update meanwhile", async () => {
    const groups = async () =>
      (
        await aws<{
          AutoScalingGroups: {
            AutoScalingGroupName: string;
            Instances: { InstanceId: string; LifecycleState: string }[];
          }[];
        }>(["autoscaling", "describe-auto-scaling-groups"])
      ).AutoScalingGroups;
    const workersGroup = (await groups()).find((g) => g.AutoScalingGroupName.includes("WorkerGroup"));
    assert.ok(workersGroup);
    const before = workersGroup.Instances.map((i) => i.InstanceId).sort();
    const parameters = (workers: string) => [
      ...["KeyPair", "ImageId", "DiscoveryURL", "PrivateDomain", "ClusterSize"].map((ParameterKey) => ({
        ParameterKey,
        UsePreviousValue: true,
      })),
      { ParameterKey: "Workers", ParameterValue: workers },
    ];
    const update = (token: string) =>
      cfn.send(
        new UpdateStackCommand({
          StackName: "paced",
          UsePreviousTemplate: true,
          ClientRequestToken: token,
          Parameters: parameters("4"),
        }),
      );
    await update("tok-update");
    assert.equal(await stackStatus("paced"), "UPDATE_IN_PROGRESS");
    // The same token again: the same answer, no second update; another token: refused meanwhile.
    await update("tok-update");
    await assert.rejects(update("other-token"), /UPDATE_IN_PROGRESS state and can not be updated/);
    const seen = new Set<string>();
    await until(async () => {
      const status = await stackStatus("paced");
      seen.add(status);
      return status === "UPDATE_COMPLETE";
    }, PACE_MS + 10_000);
    assert.ok(seen.has("UPDATE_IN_PROGRESS"));
    const updates = (await events("paced")).filter((e) => e.ClientRequestToken === "tok-update");
    assert.deepEqual(
      updates.map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`),
      [
        "paced UPDATE_IN_PROGRESS",
        "WorkerGroup UPDATE_IN_PROGRESS",
        "WorkerGroup UPDATE_COMPLETE",
        "paced UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "paced UPDATE_COMPLETE",
      ],
    );
    const after = (await groups()).find((g) => g.AutoScalingGroupName === workersGroup.AutoScalingGroupName);
    assert.ok(after, "same group name: updated in place");
    const ids = after.Instances.map((i) => i.InstanceId);
    assert.equal(ids.length, 4);
    for (const id of before) assert.ok(ids.includes(id), `${id} kept`);
  });

  it("keeps a stack DELETE_IN_PROGRESS by name for the pace, then DELETE_COMPLETE by id only", async () => {
    const id = (await cfn.send(new DescribeStacksCommand({ StackName: "paced" }))).Stacks?.[0]
      ?.StackId as string;
    await cfn.send(new DeleteStackCommand({ StackName: "paced" }));
    assert.equal(await stackStatus("paced"), "DELETE_IN_PROGRESS");
    await until(async () => (await stackStatus(id)) === "DELETE_COMPLETE", PACE_MS + 10_000);
    await assert.rejects(stackStatus("paced"), /does not exist/);
    const gone = await aws<{ Stacks: { StackStatus: string }[] }>([
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      id,
    ]);
    assert.equal(gone.Stacks[0]?.StackStatus, "DELETE_COMPLETE");
  });
});
