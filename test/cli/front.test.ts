import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
      /--cluster-size \(-s\): 2 is out of range; use an odd number from 3 to 7: etcd recommends/,
    ],
    [
      "number above range",
      ["create", "-n", "a", "-k", "b", "-s", "9"],
      /--cluster-size \(-s\): 9 is out of range; use an odd number from 3 to 7: etcd recommends at most 7 members/,
    ],
    [
      "an even number of etcd members",
      ["create", "-n", "a", "-k", "b", "-s", "4"],
      /--cluster-size \(-s\): 4 is even: etcd wants an odd number of members/,
    ],
    [
      "an etcd older than 3.5.26",
      ["create", "-n", "a", "-k", "b", "--etcd-version", "3.5.25"],
      /--etcd-version: etcd 3\.5\.25 is older than 3\.5\.26: .*zombie members/,
    ],
    [
      "static bootstrap with a discovery URL",
      [
        "create",
        "-n",
        "a",
        "-k",
        "b",
        "--etcd-bootstrap",
        "static",
        "--discovery-url",
        "https://d.example/x",
      ],
      /--etcd-bootstrap: static takes no discovery service/,
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

  it("a control character in a value is escaped: one problem, one error line (issue 7, messages)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-front-"));
    const units = join(dir, "units.cson");
    writeFileSync(units, '[\n  {name: "a\\nb\\u001b[31m.service", content_text: "x"}\n]\n');
    const run = await runCli(["build-template", "--offline", "-u", units, "-p", "-"]);
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] ?? "",
      /^error: .*units\[0\] \(a\\nb\\u001b\[31m\.service\): "a\\nb\\u001b\[31m\.service" is not a systemd unit name/,
    );
    assert.ok(!run.stderr.includes("\u001b"), "no raw escape sequence reaches the terminal");
  });

  it("a flag given twice: one clear message, its second value not called a stray argument (issue 7, messages)", async () => {
    for (const args of [
      ["create", "-n", "a", "-n", "b", "-k", "k"],
      ["create", "-n", "a", "--stack-name", "b", "-k", "k"],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 2, run.stderr);
      const errors = run.stderr.split("\n").filter((line) => line.startsWith("error: "));
      assert.deepEqual(errors, ["error: --stack-name (-n): given more than once"]);
    }
  });

  it("-h or --help after other flags prints the command's help (issue 7, messages)", async () => {
    for (const args of [
      ["create", "-n", "x", "--help"],
      ["create", "-n", "x", "-k", "y", "-h"],
      ["build-template", "--bogus", "--help"],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, doc((args[0] as string).replace("-", "_")));
      assert.equal(run.stderr, "");
    }
  });

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
