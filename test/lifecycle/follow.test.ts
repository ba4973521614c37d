/**
 * The create and destroy flows. Against the paced emulator (pandacluster_moto's pace: stacks stay
 * *_IN_PROGRESS, events come over time) and the gate proxy (a lost endpoint): following a slow
 * stack, and calls that never answer (the last describe). Against scripted AWS answers
 * (aws-sdk-client-mock, see scenario.ts) where an exact sequence must be pinned down that the
 * emulator's clock cannot: each describe names the AWS behaviour its mock stands for.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  CloudFormationClient,
  CreateStackCommand,
  type CreateStackCommandInput,
  DescribeStacksCommand,
} from "@aws-sdk/client-cloudformation";
import { GetChangeCommand } from "@aws-sdk/client-route-53";
import { InterruptedError } from "../../src/errors.js";
import { create, destroy, finish } from "../../src/lifecycle/index.js";
import type { ProgressEvent } from "../../src/lifecycle/types.js";
import { startGate } from "../helpers/gate.js";
import { type AwsServices, startAwsServices } from "../helpers/harness.js";
import {
  awsError,
  createOptions,
  credentials,
  event,
  fastPoll,
  type Mocks,
  mockAws,
  STACK_ID,
} from "./scenario.js";

/** The paced emulator's stack operations take this long. */
const PACE_MS = 6_000;
let mocks: Mocks | undefined;
afterEach(() => mocks?.restore());

function collect() {
  const events: ProgressEvent[] = [];
  return { events, onEvent: (e: ProgressEvent) => events.push(e) };
}

const stackLines = (events: ProgressEvent[]) =>
  events.filter((e) => e.kind === "stack_event").map((e) => `${e.resource} ${e.status}`);

describe("create follows a slow stack (mocked: an exact timeline of polls, and Route 53 PENDING twice before INSYNC; the paced emulator's version is below)", () => {
  it("reports each stack event once, as it arrives, then finds and names the nodes", async () => {
    mocks = mockAws(
      [
        { status: "CREATE_IN_PROGRESS", events: [event("demo", "CREATE_IN_PROGRESS", "User Initiated")] },
        { status: "CREATE_IN_PROGRESS", events: [event("VPC", "CREATE_IN_PROGRESS")] },
        { status: "CREATE_IN_PROGRESS" },
        { status: "CREATE_IN_PROGRESS", events: [event("VPC", "CREATE_COMPLETE")] },
        { status: "CREATE_COMPLETE", events: [event("demo", "CREATE_COMPLETE")] },
      ],
      { getChangePending: 2 },
    );
    const { events, onEvent } = collect();
    const result = await create(credentials, createOptions(), { onEvent, poll: fastPoll });

    assert.equal(result.status, "success", result.message);
    assert.deepEqual(stackLines(events), [
      "demo CREATE_IN_PROGRESS",
      "VPC CREATE_IN_PROGRESS",
      "VPC CREATE_COMPLETE",
      "demo CREATE_COMPLETE",
    ]);
    const elapsed = events.map((e) => e.elapsed ?? -1);
    assert.deepEqual(
      elapsed,
      [...elapsed].sort((a, b) => a - b),
      "elapsed times only grow",
    );
    assert.ok(mocks.cf.commandCalls(DescribeStacksCommand).length >= 5, "polled until complete");
    assert.equal(mocks.r53.commandCalls(GetChangeCommand).length, 3, "waited for Route 53 to be in sync");
    assert.deepEqual(
      result.cluster.nodes.map((n) => n.private_ip),
      ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    );
    assert.deepEqual(
      result.cluster.dns?.records.map((r) => r.name),
      ["node-1.demo.cluster", "node-2.demo.cluster", "node-3.demo.cluster", "etcd.demo.cluster"],
    );
    assert.equal((result.details.formation as { stack_status: string }).stack_status, "CREATE_COMPLETE");
    for (const step of ["launch", "formation", "nodes", "customize", "total"]) {
      assert.equal(typeof result.timings[step], "number", `timing for ${step}`);
    }
  });

  it("sends CreateStack with a ClientRequestToken, OnFailure, the image and the cluster's tags", async () => {
    mocks = mockAws([{ status: "CREATE_COMPLETE" }]);
    await create(credentials, createOptions({ on_failure: "ROLLBACK", public_domain: undefined }), {
      poll: fastPoll,
    });
    const input = mocks.cf.commandCalls(CreateStackCommand)[0]?.args[0].input as CreateStackCommandInput;
    assert.match(input.ClientRequestToken ?? "", /^pandacluster-create-[0-9a-f-]{36}$/);
    assert.equal(input.OnFailure, "ROLLBACK");
    const parameters = Object.fromEntries(
      (input.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]),
    );
    assert.equal(parameters.ImageId, "ami-0123456789abcdef0");
    assert.equal(parameters.ClusterSize, "3");
    assert.equal(parameters.KeyPair, "k1");
    const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value]));
    assert.equal(tags["pandacluster:cluster"], "demo");
    assert.equal(tags["pandacluster:channel"], "stable");
    assert.equal(tags["pandacluster:arch"], "amd64");
    assert.match(tags["pandacluster:version"] ?? "", /^\d+\.\d+\.\d+/);
    assert.ok(!JSON.stringify(input).includes("not-a-real-secret"), "no secret in the request");
  });
});

describe("a stack that fails (mocked: AWS's rollback with the ResourceStatusReason texts it gives, root cause first, the stack gone soon after)", () => {
  it("returns a failure whose first reason is the root cause, collected before the stack is gone", async () => {
    mocks = mockAws([
      { status: "CREATE_IN_PROGRESS", events: [event("demo", "CREATE_IN_PROGRESS", "User Initiated")] },
      {
        status: "ROLLBACK_IN_PROGRESS",
        events: [
          event("LaunchTemplate", "CREATE_FAILED", "Resource creation cancelled", "AWS::EC2::LaunchTemplate"),
          event(
            "AutoScalingGroup",
            "CREATE_FAILED",
            "You have requested more vCPU capacity than your current vCPU limit of 2 allows",
            "AWS::AutoScaling::AutoScalingGroup",
          ),
          event(
            "demo",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [AutoScalingGroup].",
          ),
        ],
      },
      { status: "ROLLBACK_COMPLETE", events: [event("demo", "ROLLBACK_COMPLETE")] },
    ]);
    const { events, onEvent } = collect();
    const result = await create(credentials, createOptions({ on_failure: "ROLLBACK" }), {
      onEvent,
      poll: fastPoll,
    });

    assert.equal(result.status, "failure");
    assert.match(result.message, /ROLLBACK_COMPLETE/);
    assert.match(result.reasons[0] ?? "", /AutoScalingGroup .*CREATE_FAILED: You have requested more vCPU/);
    assert.ok(
      result.reasons.some((r) => /Resource creation cancelled/.test(r)),
      "cascades come after",
    );
    assert.ok(
      events.some((e) => e.kind === "warning" && /ROLLBACK_IN_PROGRESS/.test(e.message)),
      "the failure is announced while the rollback runs",
    );
    assert.equal(result.cluster.nodes.length, 0);
  });
});

describe("throttling and dropped connections (mocked: moto never throttles)", () => {
  it("slows down and keeps following; never fatal", async () => {
    const rateExceeded = awsError("ThrottlingException", "Rate exceeded", {
      $retryable: { throttling: true },
    });
    const reset = awsError("Error", "socket hang up", { code: "ECONNRESET" });
    mocks = mockAws([
      { status: "CREATE_IN_PROGRESS", events: [event("demo", "CREATE_IN_PROGRESS")] },
      { error: rateExceeded },
      { error: rateExceeded },
      { error: reset },
      { status: "CREATE_COMPLETE", events: [event("demo", "CREATE_COMPLETE")] },
    ]);
    const { events, onEvent } = collect();
    const result = await create(credentials, createOptions(), { onEvent, poll: fastPoll });
    assert.equal(result.status, "success", result.message);
    const warnings = events.filter((e) => e.kind === "warning").map((e) => e.message);
    assert.equal(warnings.filter((w) => /throttling/.test(w)).length, 2);
    assert.equal(warnings.filter((w) => /cannot reach AWS/.test(w)).length, 1);
  });

  it("but an error AWS means (access denied) ends the wait with its message", async () => {
    mocks = mockAws([
      { status: "CREATE_IN_PROGRESS" },
      { error: awsError("AccessDenied", "User is not authorized to perform: cloudformation:DescribeStacks") },
    ]);
    const result = await create(credentials, createOptions(), { poll: fastPoll });
    assert.equal(result.status, "failure");
    assert.match(result.message, /not authorized to perform: cloudformation:DescribeStacks/);
    // The stack was created all the same: the failure says how to resume or remove it (issue 7 item 5).
    assert.ok(result.message.includes("pandacluster wait -n demo -r us-east-1"), result.message);
    assert.ok(result.message.includes("pandacluster destroy -n demo -r us-east-1"), result.message);
  });

  it("calls that never answer (mocked: DescribeStacks that never answers, at a 200 ms silence_ms the gate proxy version below cannot afford): says so every silence_ms, gives up at the deadline with the commands (issue 7 item 5)", async () => {
    mocks = mockAws([{ status: "CREATE_IN_PROGRESS" }]);
    let calls = 0;
    mocks.cf.on(DescribeStacksCommand).callsFake(() => {
      calls += 1;
      if (calls === 1) {
        return { Stacks: [{ StackId: STACK_ID, StackName: "demo", StackStatus: "CREATE_IN_PROGRESS" }] };
      }
      return new Promise(() => {});
    });
    const { events, onEvent } = collect();
    const started = Date.now();
    const result = await finish(
      credentials,
      { stack_name: "demo", stack_id: STACK_ID, region: "us-east-1" },
      { onEvent, poll: { ...fastPoll, silence_ms: 200 }, timeout_minutes: 0.02 },
    );
    // The hung call never answers: any end at all is the deadline's; 30 s leaves a loaded machine room.
    assert.ok(Date.now() - started < 30_000, "the deadline is kept though the call hangs");
    assert.equal(result.status, "failure");
    assert.match(result.message, /gave up after 0\.02 minutes/);
    assert.ok(result.message.includes("pandacluster destroy -n demo -r us-east-1"));
    const silent = events.filter((e) => /no answer from AWS for \d+ s; still trying until/.test(e.message));
    assert.ok(silent.length >= 3, `said so ${silent.length} times`);
  });
});

describe("waiting ends", () => {
  it("on the timeout, with the commands to resume or remove the stack", async () => {
    mocks = mockAws([{ status: "CREATE_IN_PROGRESS" }]);
    const result = await finish(
      credentials,
      { stack_name: "demo", stack_id: STACK_ID, region: "us-east-1" },
      { poll: fastPoll, timeout_minutes: 0.001 },
    );
    assert.equal(result.status, "failure");
    assert.match(result.message, /gave up after 0\.001 minutes: the stack demo is still CREATE_IN_PROGRESS/);
    assert.ok(result.message.includes("pandacluster wait -n demo -r us-east-1"));
    assert.ok(result.message.includes("pandacluster destroy -n demo -r us-east-1"));
  });

  it("on Ctrl-C (abort) with an InterruptedError that says what still runs and the exact commands", async (t) => {
    mocks = mockAws([{ status: "CREATE_IN_PROGRESS" }]);
    const controller = new AbortController();
    let polls = 0;
    const onEvent = () => {};
    mocks.cf.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
      if (!input.StackName?.startsWith("arn:")) {
        throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), {
          name: "ValidationError",
        });
      }
      polls += 1;
      if (polls === 3) controller.abort();
      return { Stacks: [{ StackId: STACK_ID, StackName: "demo", StackStatus: "CREATE_IN_PROGRESS" }] };
    });
    // A named profile must exist in the shared config file (checked before any AWS call).
    const config = join(mkdtempSync(join(tmpdir(), "pc-follow-")), "config");
    writeFileSync(config, "[profile work]\nregion = us-east-1\n");
    const savedConfig = process.env.AWS_CONFIG_FILE;
    process.env.AWS_CONFIG_FILE = config;
    t.after(() => {
      if (savedConfig === undefined) delete process.env.AWS_CONFIG_FILE;
      else process.env.AWS_CONFIG_FILE = savedConfig;
    });
    await assert.rejects(
      create(credentials, createOptions({ profile: "work" }), {
        onEvent,
        poll: fastPoll,
        signal: controller.signal,
      }),
      (error: unknown) => {
        assert.ok(error instanceof InterruptedError);
        assert.equal(error.exitCode, 130);
        assert.match(error.message, /still being created in AWS \(us-east-1\)/);
        assert.ok(error.message.includes("pandacluster wait -n demo -r us-east-1 --profile work"));
        assert.ok(error.message.includes("pandacluster destroy -n demo -r us-east-1 --profile work"));
        return true;
      },
    );
  });

  it("on Ctrl-C before CreateStack: nothing was created", async () => {
    mocks = mockAws([{ status: "CREATE_COMPLETE" }]);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      create(credentials, createOptions(), { signal: controller.signal }),
      /Interrupted before anything was created/,
    );
    assert.equal(mocks.cf.commandCalls(CreateStackCommand).length, 0);
  });
});

describe("destroy (mocked: a delete that hangs, then fails)", () => {
  it("shows only its own events, says what it still waits for, and returns DELETE_FAILED's reasons", async () => {
    const history = [event("demo", "CREATE_IN_PROGRESS"), event("demo", "CREATE_COMPLETE")].map((e) => ({
      ...e,
      ClientRequestToken: "pandacluster-create-earlier",
    }));
    mocks = mockAws(
      [
        { status: "CREATE_COMPLETE", events: history },
        { status: "DELETE_IN_PROGRESS", events: [event("demo", "DELETE_IN_PROGRESS", "User Initiated")] },
        {
          status: "DELETE_IN_PROGRESS",
          events: [event("SecurityGroup", "DELETE_IN_PROGRESS", undefined, "AWS::EC2::SecurityGroup")],
        },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        { status: "DELETE_IN_PROGRESS" },
        {
          status: "DELETE_FAILED",
          events: [
            event(
              "SecurityGroup",
              "DELETE_FAILED",
              "resource sg-0abc has a dependent object",
              "AWS::EC2::SecurityGroup",
            ),
            event("demo", "DELETE_FAILED", "The following resource(s) failed to delete: [SecurityGroup]."),
          ],
        },
      ],
      { stackExists: true },
    );
    const { events, onEvent } = collect();
    const result = await destroy(
      credentials,
      { stack_name: "demo", region: "us-east-1", no_wait: false, timeout: 5 },
      { onEvent, poll: { initial_ms: 5, max_ms: 5 } },
    );
    assert.equal(result.status, "failure");
    assert.match(result.message, /could not be deleted \(DELETE_FAILED\)/);
    assert.match(
      result.reasons[0] ?? "",
      /SecurityGroup .*DELETE_FAILED: resource sg-0abc has a dependent object/,
    );
    const lines = stackLines(events);
    assert.ok(!lines.includes("demo CREATE_COMPLETE"), "events from before the delete are not shown");
    assert.equal(lines[0], "demo DELETE_IN_PROGRESS");
    const waiting = events.filter((e) => e.kind === "waiting").map((e) => e.message);
    assert.ok(
      waiting.some((w) =>
        /waiting for: SecurityGroup \(AWS::EC2::SecurityGroup\) DELETE_IN_PROGRESS/.test(w),
      ),
      `says what it waits for (${waiting.join(" | ")})`,
    );
  });
});

describe("against the paced emulator (moto with AWS's pace) and the gate proxy", () => {
  let services: AwsServices;
  before(async () => {
    services = await startAwsServices({ moto: { paceMs: PACE_MS }, discovery: false, keyPair: "k1" });
  });
  after(() => services?.stop());

  it("create follows a stack that takes the pace: each event once, in order, as it comes; then the nodes", async () => {
    const { events, onEvent } = collect();
    const arrived = new Map<string, number>();
    const result = await create(
      credentials,
      createOptions({
        stack_name: "slow",
        discovery_url: "http://127.0.0.1:9/0123456789abcdef0123456789abcdef",
      }),
      {
        onEvent: (e) => {
          onEvent(e);
          for (const line of stackLines([e])) if (!arrived.has(line)) arrived.set(line, Date.now());
        },
        poll: { initial_ms: 200, max_ms: 500 },
      },
    );
    assert.equal(result.status, "success", result.message);
    const stack = stackLines(events).filter((line) => line.startsWith("slow "));
    assert.equal(stack[0], "slow CREATE_IN_PROGRESS");
    assert.equal(stack.at(-1), "slow CREATE_COMPLETE");
    const all = stackLines(events);
    assert.equal(new Set(all).size, all.length, `an event twice: ${all.join(" | ")}`);
    assert.ok(all.length > 4, `resource events too: ${all.join(" | ")}`);
    // Followed as they came, not all at the end: the stack's first and last events arrived a good
    // part of the pace apart.
    const spread =
      (arrived.get("slow CREATE_COMPLETE") ?? 0) - (arrived.get("slow CREATE_IN_PROGRESS") ?? Number.NaN);
    assert.ok(spread >= PACE_MS / 2, `they arrived ${spread} ms apart, the pace is ${PACE_MS} ms`);
    assert.equal(result.cluster.nodes.length, 3);
  });

  it("calls that never answer (the gate proxy hangs DescribeStacks): says so, gives up at the deadline with the commands", async () => {
    const gate = await startGate(services.moto.endpoint);
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    try {
      const cfn = new CloudFormationClient({ region: "us-east-1", endpoint: services.moto.endpoint });
      const created = await cfn.send(
        new CreateStackCommand({
          StackName: "lost",
          TemplateBody: JSON.stringify({ Resources: { Topic: { Type: "AWS::SNS::Topic" } } }),
        }),
      );
      cfn.destroy();
      let described = 0;
      gate.rule = (operation) => {
        if (operation !== "cloudformation:DescribeStacks") return "forward";
        described += 1;
        return described === 1 ? "forward" : "hang";
      };
      process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = gate.endpoint;
      const { events, onEvent } = collect();
      const started = Date.now();
      const result = await finish(
        // A credentials object of its own: the SDK clients are cached per object, and these must be
        // made with the gate's endpoint.
        { ...credentials },
        { stack_name: "lost", stack_id: created.StackId as string, region: "us-east-1" },
        { onEvent, poll: { initial_ms: 100, max_ms: 200, silence_ms: 1_000 }, timeout_minutes: 0.1 },
      );
      assert.ok(described >= 2, `no DescribeStacks hung; the gate saw ${gate.seen.join(", ")}`);
      assert.ok(Date.now() - started < 60_000, "the deadline is kept though the call hangs");
      assert.equal(result.status, "failure");
      assert.match(result.message, /gave up after 0\.1 minutes/);
      assert.ok(result.message.includes("pandacluster destroy -n lost -r us-east-1"));
      const silent = events.filter((e) => /no answer from AWS for \d+ s; still trying until/.test(e.message));
      assert.ok(silent.length >= 2, `said so ${silent.length} times`);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
      else process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = saved;
      await gate.close();
    }
  });
});
