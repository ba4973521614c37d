/**
 * Day-2 commands act on one stack, the cluster's own (issue 14, High 1): a library caller that kept
 * create's StackId gets the replacement reported (exit 1's OperationError, never adopted); the CLI,
 * which keeps no store, acts only on a stack this tool made for that name. The moto emulator with
 * the pandacluster_moto fixes, a local discovery service, the AWS CLI to read back.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create, destroy, OperationError, scale, status, sync, wait } from "../../src/index.js";
import { awsEnv } from "../helpers/services.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

function libraryEnv(): void {
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(world.moto.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
}

async function workersOf(name: string): Promise<string | undefined> {
  const answer = await world.aws<{
    Stacks: { Parameters: { ParameterKey: string; ParameterValue: string }[] }[];
  }>(["cloudformation", "describe-stacks", "--stack-name", name]);
  return answer.Stacks[0]?.Parameters.find((p) => p.ParameterKey === "Workers")?.ParameterValue;
}

describe("day-2 identity from the CLI and the library", () => {
  it("a kept StackId whose stack was replaced under its name: scale, sync, status, wait refuse it, naming both ids", async () => {
    libraryEnv();
    const config = { discovery_service: world.discovery.url };
    const first = await create(undefined, { stack_name: "pin", key_pair: "k1", workers: 1, ...config });
    assert.equal(first.status, "success", first.message);
    const kept = first.cluster.stack_id as string;
    assert.equal((await destroy(undefined, { stack_name: "pin" })).status, "success");
    const second = await create(undefined, { stack_name: "pin", key_pair: "k1", workers: 1, ...config });
    assert.equal(second.status, "success", second.message);
    const other = second.cluster.stack_id as string;
    assert.notEqual(other, kept);

    const refused = async (what: string, run: () => Promise<unknown>) => {
      await assert.rejects(run, (error: unknown) => {
        assert.ok(error instanceof OperationError, `${what}: ${String(error)}`);
        assert.equal(error.exitCode, 1);
        assert.match(error.message, /replaced outside pandacluster/, what);
        assert.ok(error.message.includes(kept) && error.message.includes(other), error.message);
        return true;
      });
    };
    await refused("scale", () => scale(undefined, { stack_name: "pin", stack_id: kept, workers: 3 }));
    await refused("sync", () => sync(undefined, { stack_name: "pin", stack_id: kept }));
    await refused("status", () => status(undefined, { stack_name: "pin", stack_id: kept }));
    await refused("wait", () => wait(undefined, { stack_name: "pin", stack_id: kept }));
    assert.equal(await workersOf("pin"), "1", "the other stack was not updated");
    await assert.rejects(
      () => scale(undefined, { stack_name: "pin", stack_id: "pin", workers: 3 }),
      /stack_id: "pin" is not a CloudFormation StackId/,
    );

    // Its own StackId: acted on.
    const grown = await scale(undefined, { stack_name: "pin", stack_id: other, workers: 2 });
    assert.equal(grown.status, "success", grown.message);
    assert.equal(await workersOf("pin"), "2");
  });

  it("the CLI scales and syncs only a stack this tool made for that name (its pandacluster:cluster tag)", async () => {
    const template = join(world.dir, "plain.json");
    writeFileSync(
      template,
      JSON.stringify({
        Parameters: { Workers: { Type: "Number", Default: "1" } },
        Resources: { Vpc: { Type: "AWS::EC2::VPC", Properties: { CidrBlock: "10.20.0.0/16" } } },
      }),
    );
    for (const [name, tags] of [
      ["plain", []],
      ["spoof", ["Key=pandacluster:cluster,Value=someone-else"]],
    ] as const) {
      await world.aws([
        "cloudformation",
        "create-stack",
        "--stack-name",
        name,
        "--template-body",
        `file://${template}`,
        ...(tags.length ? ["--tags", ...tags] : []),
      ]);
      for (const args of [
        ["scale", "-n", name, "--workers", "3"],
        ["sync", "-n", name],
      ]) {
        const ran = await world.cli(args);
        assert.equal(ran.code, 1, `${args.join(" ")}: ${ran.stderr}`);
        assert.match(
          ran.stderr,
          new RegExp(`the stack ${name} in us-east-1 was not created by pandacluster for that name`),
        );
      }
      assert.equal(await workersOf(name), "1");
    }
  });
});
