import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";

const doc = (name: string) => readFileSync(new URL(`../../../doc/${name}`, import.meta.url), "utf8");

describe("help", () => {
  for (const args of [[], ["help"], ["-h"], ["--help"]]) {
    it(`pandacluster ${args.join(" ")} prints doc/main and exits 0`, async () => {
      const run = await runCli(args);
      assert.equal(run.code, 0);
      assert.equal(run.stdout, doc("main"));
      assert.equal(run.stderr, "");
    });
  }

  const topics = ["build-template", "create", "destroy", "status", "list", "wait", "serve"];
  for (const command of topics) {
    for (const form of [
      [command, "help"],
      [command, "-h"],
      [command, "--help"],
      ["help", command],
    ]) {
      it(`pandacluster ${form.join(" ")} prints doc/${command.replace("-", "_")}`, async () => {
        const run = await runCli(form);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, doc(command.replace("-", "_")));
      });
    }
  }

  it("--version prints the package version", async () => {
    const run = await runCli(["--version"]);
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    assert.equal(run.code, 0);
    assert.equal(run.stdout, `pandacluster ${pkg.version}\n`);
  });

  it("an unknown command is an error and one line pointing at the help, exit 2", async () => {
    const run = await runCli(["frobnicate"]);
    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      'error: unknown command "frobnicate"\nsee `pandacluster --help` for the commands\n',
    );
    assert.equal(run.stdout, "");
  });

  it("help for an unknown topic is an error, exit 2", async () => {
    const run = await runCli(["help", "frobnicate"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown command "frobnicate"/);
  });
});

describe("flag errors name the flag, then one line pointing at the command's help (not the help), exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "unrecognised flag",
      ["create", "-n", "a", "-k", "b", "--colour", "red"],
      /^error: --colour: unrecognised flag/,
    ],
    ["unrecognised short flag", ["destroy", "-n", "a", "-x"], /^error: -x: unrecognised flag for destroy/],
    [
      "flag without a value at the end",
      ["create", "-k", "b", "-n"],
      /^error: --stack-name \(-n\): needs a value/,
    ],
    [
      "flag followed by a flag",
      ["create", "-n", "--json", "-k", "b"],
      /^error: --stack-name \(-n\): needs a value/,
    ],
    [
      "value not allowed",
      ["build-template", "-c", "nightly"],
      /--channel \(-c\): "nightly" is not allowed; use one of stable, beta, alpha, lts/,
    ],
    [
      "pv refused with the reason",
      ["build-template", "-v", "pv"],
      /--virtualization \(-v\): "pv" is refused: paravirtual \(PV\) images no longer exist on EC2/,
    ],
    [
      "non-integer",
      ["create", "-n", "a", "-k", "b", "-s", "three"],
      /--cluster-size \(-s\): "three" is not an integer/,
    ],
    [
      "fractional number",
      ["create", "-n", "a", "-k", "b", "-s", "3.5"],
      /--cluster-size \(-s\): "3.5" is not an integer/,
    ],
    [
      "number below range",
      ["create", "-n", "a", "-k", "b", "-s", "2"],
      /--cluster-size \(-s\): 2 is out of range; use 3 to 12/,
    ],
    [
      "number above range",
      ["create", "-n", "a", "-k", "b", "-s", "13"],
      /--cluster-size \(-s\): 13 is out of range; use 3 to 12/,
    ],
    ["missing required flag", ["create", "-k", "b"], /^error: --stack-name \(-n\): is required/],
    ["missing second required flag", ["create", "-n", "a"], /^error: --key-pair \(-k\): is required/],
    [
      "stack name rule",
      ["create", "-n", "9lives", "-k", "b"],
      /--stack-name \(-n\): "9lives" is not a letter, then letters, digits and hyphens/,
    ],
    [
      "stack name length",
      ["create", "-n", `a${"b".repeat(128)}`, "-k", "b"],
      /--stack-name \(-n\): is 129 characters long; at most 128/,
    ],
    [
      "bad CIDR",
      ["create", "-n", "a", "-k", "b", "--allow-ssh-from", "10.0.0.300/8"],
      /--allow-ssh-from: "10.0.0.300\/8" is not an IPv4 CIDR block/,
    ],
    [
      "bad URL",
      ["create", "-n", "a", "-k", "b", "--discovery-service", "ftp://x"],
      /--discovery-service: "ftp:\/\/x" is not an http\(s\) URL/,
    ],
    ["boolean given a value", ["create", "-n", "a", "-k", "b", "--json=yes"], /--json: takes no value/],
    [
      "flag given twice",
      ["destroy", "-n", "a", "--stack-name", "b"],
      /--stack-name \(-n\): given more than once/,
    ],
    ["stray word", ["status", "demo"], /^error: demo: unexpected argument/],
    [
      "bad on_failure",
      ["create", "-n", "a", "-k", "b", "--on-failure", "KEEP"],
      /--on-failure: "KEEP" is not allowed; use one of DELETE, ROLLBACK, DO_NOTHING/,
    ],
    [
      "units file missing",
      ["build-template", "-u", "/nonexistent/units.cson"],
      /--units \(-u\): cannot read \/nonexistent\/units.cson: no such file/,
    ],
  ];
  for (const [title, args, pattern] of cases) {
    it(title, async () => {
      const run = await runCli(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, pattern);
      const command = (args[0] as string).replace("-", "_");
      const lines = run.stderr.split("\n");
      assert.equal(lines.at(-1), "", "ends with a newline");
      assert.equal(lines.at(-2), `see \`pandacluster ${command.replace("_", "-")} --help\``);
      assert.ok(
        lines.slice(0, -2).every((line) => line.startsWith("error: ")),
        run.stderr,
      );
      assert.ok(
        !run.stderr.includes(doc(command).split("\n")[0] as string),
        "the help itself is not printed",
      );
      assert.equal(run.stdout, "");
    });
  }

  it("reports every problem, one line each", async () => {
    const run = await runCli(["create", "-n", "a", "-s", "99", "-c", "edge"]);
    assert.equal(run.code, 2);
    const errors = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
    assert.equal(errors.length, 3, run.stderr);
  });

  it("accepts --long=value and the long form of every short flag", async () => {
    const run = await runCli([
      "build-template",
      "--channel=beta",
      "--arch",
      "arm64",
      "--offline",
      "--write-path=-",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(JSON.parse(run.stdout).Description, /beta/);
  });
});
