/**
 * Input a careless or hostile user gives `create` (issue 7): refused up front with exit 2, naming
 * the problem, with nothing created in AWS (moto) and nothing registered with the discovery service.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertNothingCreated as nothingCreated } from "../helpers/harness.js";
import { worldPerFile } from "../lifecycle/e2e.js";

const world = worldPerFile();

/** Nothing in AWS (the harness's one check: no stack, hosted zone, instance or launch template). */
const assertNothingCreated = () => nothingCreated(world.aws);

describe("--discovery-url is checked by the template's own rule (issue 7 item 6)", () => {
  const hostile = [
    "http://127.0.0.1:1/x\nExecStartPre=/bin/touch /tmp/owned",
    'http://127.0.0.1:1/x"y',
    "http://127.0.0.1:1/x%41",
    "http://127.0.0.1:1/x y",
  ];
  for (const url of hostile) {
    it(`${JSON.stringify(url)}: exit 2, nothing created, nothing registered`, async () => {
      const registered = await world.registered();
      const run = await world.cli(["create", "-n", "disc", "-k", "k1", "--discovery-url", url]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /--discovery-url: .* is not an http\(s\) URL without spaces, quotes, backslashes, %, < or >/,
      );
      await assertNothingCreated();
      assert.equal(await world.registered(), registered, "no discovery URL was asked for");
    });
  }
});

describe("names and instance types are checked before anything is created (issue 7, low)", () => {
  const cases: [string, string[], RegExp][] = [
    ["a 64-character stack name", ["-n", `a${"b".repeat(63)}`], /a DNS label has at most 63 \(RFC 1035\)/],
    ["a stack name ending with a hyphen", ["-n", "trailing-"], /ends with a hyphen/],
    [
      "t3.small for arm64 nodes",
      ["-n", "arm", "-a", "arm64", "-i", "t3.small"],
      /is an amd64 type but the nodes are arm64/,
    ],
    ["a made-up instance type", ["-n", "madeup", "-i", "zz9.huge"], /not a known EC2 instance type family/],
  ];
  for (const [title, args, pattern] of cases) {
    it(`${title}: exit 2, nothing created, nothing registered`, async () => {
      const registered = await world.registered();
      const run = await world.cli(["create", "-k", "k1", ...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, pattern);
      await assertNothingCreated();
      assert.equal(await world.registered(), registered);
    });
  }
});
