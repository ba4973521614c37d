/**
 * What goes wrong, end to end through bin/pandacluster against the moto emulator and a real etcd
 * discovery service: each case checks the exit code, the message, and that nothing was left behind.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ClusterResult, ListResult, StatusResult } from "../../src/lifecycle/types.js";
import { assertNothingCreated as nothingCreated } from "../helpers/harness.js";
import { refusedPort } from "../helpers/services.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

/** Nothing in AWS (the harness's one check: no stack, hosted zone, instance or launch template). */
const assertNothingCreated = () => nothingCreated(world.aws);

describe("bad input: exit 2, nothing created", () => {
  it("a key pair that does not exist (the message lists those that do)", async () => {
    const registered = await world.registered();
    const run = await world.cli(["create", "-n", "nokey", "-k", "missing"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /no EC2 key pair named "missing" in us-east-1 \(the key pairs there are: k1\)/);
    await assertNothingCreated();
    assert.equal(await world.registered(), registered, "no discovery URL was asked for");
  });

  it("a public domain with no public zone", async () => {
    const run = await world.cli(["create", "-n", "nozone", "-k", "k1", "--public-domain", "example.org"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /public_domain: no public Route 53 hosted zone named example\.org/);
    await assertNothingCreated();
  });

  it("a template over CloudFormation's 51,200 bytes", async () => {
    const path = join(world.dir, "big.json");
    writeFileSync(path, JSON.stringify({ Resources: {}, Description: "x".repeat(52_000) }));
    const run = await world.cli(["create", "-n", "big", "-k", "k1", "-t", path]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /CloudFormation accepts at most 51,200/);
    await assertNothingCreated();
  });

  it("no region anywhere", async () => {
    const run = await world.cli(["list"], { env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined } });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /no AWS region: pass --region \(-r\)/);
  });
});

describe("failed operations: exit 1", () => {
  it("a duplicate name leaves the first cluster as it was", async () => {
    const first = await world.cliJson<ClusterResult>(["create", "-n", "twice", "-k", "k1"]);
    assert.equal(first.run.code, 0, first.run.stderr);
    const registered = await world.registered();
    const second = await world.cli(["create", "-n", "twice", "-k", "k1"]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /a stack named twice already exists in us-east-1/);
    assert.equal(await world.registered(), registered, "no discovery URL was asked for");
    const stacks = await world.aws<{ Stacks: { StackId: string; StackStatus: string }[] }>([
      "cloudformation",
      "describe-stacks",
    ]);
    assert.deepEqual(
      stacks.Stacks.map((s) => [s.StackId, s.StackStatus]),
      [[first.json.cluster.stack_id, "CREATE_COMPLETE"]],
    );
  });

  it("destroy of a cluster that does not exist", async () => {
    const run = await world.cli(["destroy", "-n", "ghost"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /no cluster named ghost in us-east-1/);
  });

  it("status of a cluster that does not exist", async () => {
    const run = await world.cli(["status", "-n", "ghost"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /no cluster named ghost in us-east-1/);
  });

  it("the discovery service is down: the message names it, and with --json stdout is still JSON", async () => {
    const down = `http://127.0.0.1:${await refusedPort()}`;
    const run = await world.cli([
      "create",
      "-n",
      "nodisc",
      "-k",
      "k1",
      "--discovery-service",
      down,
      "--json",
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stderr.includes(`the etcd discovery service ${down} is unreachable (ECONNREFUSED)`),
      run.stderr,
    );
    const json = JSON.parse(run.stdout) as { status: string; error: { message: string; exit_code: number } };
    assert.equal(json.status, "failure");
    assert.equal(json.error.exit_code, 1);
    assert.match(json.error.message, /discovery service/);
    await assertNothingCreated();
  });

  it("the AWS endpoint is down", async () => {
    const down = `http://127.0.0.1:${await refusedPort()}`;
    const run = await world.cli(["create", "-n", "noaws", "-k", "k1"], { env: { AWS_ENDPOINT_URL: down } });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /cannot reach AWS \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
  });

  it("CloudFormation rejects the template: its message", async () => {
    const path = join(world.dir, "rejected.json");
    writeFileSync(
      path,
      JSON.stringify({
        Resources: { VPC: { Type: "AWS::EC2::VPC", Properties: { CidrBlock: { Ref: "Nowhere" } } } },
      }),
    );
    const run = await world.cli(["create", "-n", "rejected", "-k", "k1", "-t", path]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /CloudFormation refused to create stack rejected: ValidationError: Template format error/,
    );
    await assertNothingCreated();
  });

  it("a resource fails: the stack is deleted (OnFailure DELETE) and the reason is shown", async () => {
    // moto (with the project's fixes) runs the failure and the clean-up like AWS, synchronously.
    const path = join(world.dir, "failing.json");
    writeFileSync(
      path,
      JSON.stringify({
        Resources: {
          VPC: { Type: "AWS::EC2::VPC", Properties: { CidrBlock: "10.0.0.0/16" } },
          Subnet: {
            Type: "AWS::EC2::Subnet",
            Properties: { VpcId: { Ref: "VPC" }, CidrBlock: "10.99.0.0/24" },
          },
        },
      }),
    );
    const run = await world.cliJson<ClusterResult>(["create", "-n", "failing", "-k", "k1", "-t", path]);
    assert.equal(run.run.code, 1, run.run.stderr);
    assert.equal(run.json.status, "failure");
    assert.match(run.json.message, /failed to create; CloudFormation deleted it \(DELETE_COMPLETE\)/);
    assert.match(
      run.json.reasons[0] ?? "",
      /^Subnet \(AWS::EC2::Subnet\) CREATE_FAILED: The CIDR '10\.99\.0\.0\/24' is invalid/,
    );
    assert.match(run.run.stderr, /formation +Subnet +CREATE_FAILED/);
    await assertNothingCreated();

    const human = await world.cli([
      "create",
      "-n",
      "failing2",
      "-k",
      "k1",
      "-t",
      path,
      "--on-failure",
      "DO_NOTHING",
    ]);
    assert.equal(human.code, 1, human.stderr);
    assert.match(
      human.stderr,
      /error: the stack failing2 failed to create \(CREATE_FAILED\); remove what is left with: pandacluster destroy -n failing2 -r us-east-1/,
    );
    assert.match(human.stderr, /^ {2}- Subnet \(AWS::EC2::Subnet\) CREATE_FAILED: The CIDR/m);

    const status = await world.cliJson<StatusResult>(["status", "-n", "failing2"]);
    assert.equal(status.run.code, 0, status.run.stderr);
    assert.equal(status.json.stack_status, "CREATE_FAILED");
    assert.match(status.json.reasons[0] ?? "", /^Subnet .*The CIDR '10\.99\.0\.0\/24' is invalid/);
  });

  it("destroy leaves alone a stack pandacluster did not make, and list does not show it", async () => {
    const path = join(world.dir, "foreign.json");
    writeFileSync(
      path,
      JSON.stringify({
        Resources: { VPC: { Type: "AWS::EC2::VPC", Properties: { CidrBlock: "10.0.0.0/16" } } },
      }),
    );
    await world.aws([
      "cloudformation",
      "create-stack",
      "--stack-name",
      "foreign",
      "--template-body",
      `file://${path}`,
    ]);
    const run = await world.cli(["destroy", "-n", "foreign"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /the stack foreign in us-east-1 was not created by pandacluster/);
    const stacks = await world.aws<{ Stacks: { StackStatus: string }[] }>([
      "cloudformation",
      "describe-stacks",
      "--stack-name",
      "foreign",
    ]);
    assert.equal(stacks.Stacks[0]?.StackStatus, "CREATE_COMPLETE");
    const listed = await world.cliJson<ListResult>(["list"]);
    assert.deepEqual(listed.json.clusters, []);
  });
});

describe("--dry-run", () => {
  it("resolves everything, prints the CreateStack request without secrets, creates nothing", async () => {
    writeFileSync(
      world.configPath,
      `aws: {id: "AKIDDRYRUN", secret: "super-secret-value", region: "us-east-1"}\n`,
      {
        mode: 0o600,
      },
    );
    try {
      const registered = await world.registered();
      const run = await world.cli(["create", "-n", "dry", "-k", "k1", "-s", "5", "--dry-run"], {
        env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /dry run: dry would be created in us-east-1; nothing was created/);
      const request = JSON.parse(run.stdout.slice(run.stdout.indexOf("{"))) as {
        StackName: string;
        Parameters: { ParameterKey: string; ParameterValue: string }[];
      };
      assert.equal(request.StackName, "dry");
      const parameters = Object.fromEntries(
        request.Parameters.map((p) => [p.ParameterKey, p.ParameterValue]),
      );
      assert.equal(parameters.ClusterSize, "5");
      assert.match(parameters.ImageId ?? "", /^ami-/);
      assert.ok(!`${run.stdout}${run.stderr}`.includes("super-secret-value"), "never prints the secret");
      await assertNothingCreated();
      assert.equal(await world.registered(), registered, "no discovery URL was asked for");
    } finally {
      writeFileSync(world.configPath, `discovery_service: "${world.discovery.url}"\n`, { mode: 0o600 });
    }
  });
});

describe("Ctrl-C", () => {
  let stalled: Server | undefined;
  after(() => stalled?.close());

  it("while waiting: exit 130 and says what is left (here: nothing, the discovery service never answered)", async () => {
    stalled = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => stalled?.listen(0, "127.0.0.1", resolve));
    const service = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    const run = await world.cli(["create", "-n", "stop", "-k", "k1", "--discovery-service", service], {
      signalWhen: { text: "image ami-", signal: "SIGINT" },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /Interrupted before anything was created in AWS/);
    await assertNothingCreated();
  });
});
