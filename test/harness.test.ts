/**
 * The test harness's own checks, each shown failing on what it must catch (a check that cannot fail
 * is a defect): the test-file pattern lists test files only, a hang fails by the default timeout, a
 * wait names what it waited for, and assertNothingCreated refuses every kind of leftover.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "./helpers/cli.js";
import {
  type AwsServices,
  assertNothingCreated,
  eventually,
  startAwsServices,
  within,
} from "./helpers/harness.js";

const run = promisify(execFile);

function withoutTestContext(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}
const runner = join(repoRoot, "scripts", "run-tests.mjs");

describe("the test-file pattern (scripts/run-tests.mjs --list)", () => {
  it("lists every compiled test/**/*.test.ts and no helper module", async () => {
    const { stdout } = await run(process.execPath, [runner, "--list"], { cwd: repoRoot });
    const files = stdout.trim().split("\n");
    assert.ok(files.includes("dist/test/harness.test.js"), "this file is listed");
    assert.ok(files.includes("dist/test/server/replicas-e2e.test.js"));
    for (const file of files) {
      assert.match(file, /^dist\/test\/.+\.test\.js$/);
      assert.ok(existsSync(join(repoRoot, file.replace(/^dist\//, "").replace(/\.js$/, ".ts"))), file);
    }
    // The helpers that `node --test dist/test/` ran (and counted as passes) on Node 20:
    for (const helper of [
      "helpers/services.js",
      "helpers/harness.js",
      "lifecycle/e2e.js",
      "server/helpers.js",
    ]) {
      assert.ok(existsSync(join(repoRoot, "dist", "test", helper)), `${helper} is built`);
      assert.ok(!files.includes(`dist/test/${helper}`), `${helper} is not run as a test file`);
    }
  });
});

describe("a hang fails (the default timeout that npm test preloads)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-harness-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a test awaiting what never comes fails by name, and the run ends", async () => {
    const file = join(dir, "hang.test.mjs");
    writeFileSync(
      file,
      [
        'import { it } from "node:test";',
        'it("waits forever", () => new Promise(() => setInterval(() => {}, 1000)));',
        'it("passes", () => {});',
        "",
      ].join("\n"),
    );
    const answer = await within(
      run(process.execPath, [runner, file], {
        cwd: repoRoot,
        // Without NODE_TEST_CONTEXT (set for this file's process): a runner of its own, not a child.
        env: { ...withoutTestContext(), PANDACLUSTER_TEST_TIMEOUT_MS: "1500" },
      }).then(
        () => ({ code: 0, stdout: "" }),
        (error: { code: number; stdout: string }) => error,
      ),
      60_000,
      "the runner to end a file whose test hangs",
    );
    assert.equal(answer.code, 1, answer.stdout);
    assert.match(answer.stdout, /not ok 1 - waits forever[\s\S]*test timed out after 1500ms/);
    assert.match(answer.stdout, /ok 2 - passes/);
    assert.match(answer.stdout, /# cancelled 1/);
  });
});

describe("waits with deadlines name what they wait for", () => {
  it("within()", async () => {
    await assert.rejects(
      within(new Promise(() => {}), 50, "LISTEN pandacluster_events"),
      /timed out after 50 ms waiting for LISTEN pandacluster_events/,
    );
    assert.equal(await within(Promise.resolve(7), 50, "seven"), 7);
  });

  it("eventually()", async () => {
    await assert.rejects(
      eventually(async () => undefined, 60, "the stack to settle"),
      /timed out after 60 ms waiting for the stack to settle/,
    );
    let calls = 0;
    assert.equal(await eventually(async () => (++calls >= 3 ? calls : undefined), 5_000, "3 calls"), 3);
  });
});

describe("assertNothingCreated refuses every kind of leftover (moto)", () => {
  let services: AwsServices;
  before(async () => {
    services = await startAwsServices({ discovery: false, keyPair: null, processEnv: false });
  });
  after(() => services?.stop());
  beforeEach(() => services.reset());

  it("passes on an empty emulator", async () => {
    await assertNothingCreated(services.aws);
  });

  const leftovers: [string, string[], RegExp][] = [
    [
      "a stack",
      [
        "cloudformation",
        "create-stack",
        "--stack-name",
        "left",
        "--template-body",
        JSON.stringify({ Resources: { Topic: { Type: "AWS::SNS::Topic" } } }),
      ],
      /no stack/,
    ],
    [
      "a hosted zone",
      ["route53", "create-hosted-zone", "--name", "left.example", "--caller-reference", "left"],
      /no hosted zone/,
    ],
    [
      "an instance",
      ["ec2", "run-instances", "--image-id", "ami-84380cf42e2ae29d6", "--count", "1"],
      /no instance/,
    ],
    [
      "a launch template",
      [
        "ec2",
        "create-launch-template",
        "--launch-template-name",
        "left",
        "--launch-template-data",
        '{"InstanceType":"t3.small"}',
      ],
      /no launch template/,
    ],
  ];
  for (const [what, args, message] of leftovers) {
    it(`fails on ${what}`, async () => {
      await services.aws(args);
      await assert.rejects(assertNothingCreated(services.aws), message);
    });
  }
});
