import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { argumentSpec, commandNames, commandSpec, definitions } from "../src/definitions.js";
import { UsageError } from "../src/errors.js";
import { unitsFolder, validateOptions } from "../src/options.js";
import { parameters } from "../src/template/parameters.js";

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error.message.split("\n");
  }
  assert.fail("expected a UsageError");
}

describe("argument definitions", () => {
  it("define every command, each with its own doc file", () => {
    assert.deepEqual([...definitions().keys()].sort(), [...commandNames].sort());
  });

  it("derive long flags from names and keep short flags unique within a command", () => {
    for (const name of commandNames) {
      const spec = commandSpec(name);
      const shorts = spec.arguments.flatMap((a) => (a.flag ? [a.flag] : []));
      assert.equal(new Set(shorts).size, shorts.length, `${name} has a duplicate short flag`);
      for (const arg of spec.arguments) assert.equal(arg.long, `--${arg.name.replaceAll("_", "-")}`);
    }
  });

  it("keep the seed's short flags", () => {
    const flags = Object.fromEntries(commandSpec("create").arguments.map((a) => [a.name, a.flag]));
    assert.deepEqual(
      {
        n: flags.stack_name,
        k: flags.key_pair,
        i: flags.instance_type,
        s: flags.cluster_size,
        t: flags.template_path,
      },
      { n: "-n", k: "-k", i: "-i", s: "-s", t: "-t" },
    );
    const build = Object.fromEntries(commandSpec("build_template").arguments.map((a) => [a.name, a.flag]));
    assert.deepEqual(
      [build.channel, build.virtualization, build.units, build.write_path],
      ["-c", "-v", "-u", "-p"],
    );
  });

  it("apply a command's override of a shared argument to that command only", () => {
    const region = (c: "build_template" | "create") =>
      commandSpec(c).arguments.find((a) => a.name === "region");
    assert.match(region("build_template")?.description ?? "", /image map/);
    assert.doesNotMatch(region("create")?.description ?? "", /image map/);
  });
});

describe("validateOptions for the library and the server", () => {
  it("applies defaults, including those that depend on another option", () => {
    const amd = validateOptions("create", { stack_name: "demo", key_pair: "k" }, "library");
    assert.equal(amd.instance_type, "t3.small");
    assert.equal(amd.cluster_size, 3);
    assert.equal(amd.on_failure, "DELETE");
    assert.equal(amd.timeout, 30);
    const arm = validateOptions("create", { stack_name: "demo", key_pair: "k", arch: "arm64" }, "library");
    assert.equal(arm.instance_type, "t4g.small");
    const chosen = validateOptions(
      "create",
      { stack_name: "d", key_pair: "k", arch: "arm64", instance_type: "m7g.large" },
      "library",
    );
    assert.equal(chosen.instance_type, "m7g.large");
  });

  it("names options by their names, with the CLI's wording", () => {
    assert.deepEqual(
      problems(() =>
        validateOptions("create", { stack_name: "demo", key_pair: "k", cluster_size: 20 }, "library"),
      ),
      ["cluster_size: 20 is out of range; use 3 to 12"],
    );
    assert.deepEqual(
      problems(() => validateOptions("create", { key_pair: "k" }, "http")),
      ["stack_name: is required"],
    );
  });

  it("refuses wrong types instead of coercing them", () => {
    assert.deepEqual(
      problems(() =>
        validateOptions("create", { stack_name: "demo", key_pair: "k", cluster_size: "5" }, "http"),
      ),
      ['cluster_size: "5" is not an integer'],
    );
    assert.deepEqual(
      problems(() =>
        validateOptions("create", { stack_name: "demo", key_pair: "k", dry_run: "yes" }, "library"),
      ),
      ['dry_run: must be true or false (got "yes")'],
    );
    assert.deepEqual(
      problems(() => validateOptions("create", { stack_name: 7, key_pair: "k" }, "http")),
      ["stack_name: must be a string (got 7)"],
    );
  });

  it("refuses unknown options, and CLI-only ones outside the CLI", () => {
    assert.deepEqual(
      problems(() => validateOptions("destroy", { stack_name: "demo", force: true, json: true }, "http")),
      ["force: unknown option", "json: unknown option"],
    );
  });

  it("takes units inline over HTTP, and never a server-side path", () => {
    const inline = validateOptions(
      "build_template",
      { units: [{ name: "a.service", content_text: "x" }] },
      "http",
    );
    assert.deepEqual(inline.units?.units, [{ name: "a.service", content_text: "x" }]);
    assert.deepEqual(
      problems(() => validateOptions("build_template", { units: "/etc/passwd" }, "http")),
      ["units: must be given inline as an object, not a file path"],
    );
  });

  it("reads a units file given as a path in library use, naming the file and line of a syntax error", () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-options-"));
    const good = join(dir, "good.cson");
    writeFileSync(good, 'units: [\n  {name: "a.service"}\n]\n');
    const parsed = validateOptions("build_template", { units: good }, "library");
    assert.equal(parsed.units && unitsFolder(parsed.units), dir);
    assert.deepEqual(parsed.units?.units, { units: [{ name: "a.service" }] });
    const bad = join(dir, "bad.cson");
    writeFileSync(bad, "units: [\n  {name: \n]]\n");
    const [message] = problems(() => validateOptions("build_template", { units: bad }, "library"));
    assert.match(message ?? "", new RegExp(`^units: ${bad}: line \\d+`));
  });

  it("a discovery URL is checked by the template's own DiscoveryURL rule, on every face (issue 7 item 6)", () => {
    const rule = parameters("amd64", true).DiscoveryURL?.AllowedPattern;
    assert.equal(rule, argumentSpec("create", "discovery_url").pattern, "one rule, from the definitions");
    const hostile = [
      "http://x/a\nExecStartPre=/bin/sh -c evil",
      'http://x/a"b',
      "http://x/a'b",
      "http://x/a%41",
      "http://x/a b",
      "http://x/a\\b",
      "http://x/a\tb",
    ];
    for (const face of ["cli", "library", "http"] as const) {
      for (const url of hostile) {
        const [message, ...more] = problems(() =>
          validateOptions("create", { stack_name: "demo", key_pair: "k", discovery_url: url }, face),
        );
        assert.deepEqual(more, [], `${face} ${JSON.stringify(url)}: one problem`);
        assert.match(
          message ?? "",
          /discovery.url.*is not an http\(s\) URL without spaces, quotes, backslashes, %, < or >/,
        );
        assert.ok(!new RegExp(rule as string).test(url), "the template's pattern refuses it too");
      }
      const good = "https://discovery.etcd.io/0123456789abcdef0123456789abcdef";
      const options = validateOptions(
        "create",
        { stack_name: "demo", key_pair: "k", discovery_url: good },
        face,
      );
      assert.equal(options.discovery_url, good);
    }
  });

  it("a stack name that cannot be a DNS label is refused unless a private domain names the zone (issue 7, names)", () => {
    const long = `a${"b".repeat(63)}`;
    assert.deepEqual(
      problems(() => validateOptions("create", { stack_name: long, key_pair: "k" }, "library")),
      [
        `stack_name: is 64 characters long; a DNS label has at most 63 (RFC 1035): it names the private zone ${long}.cluster; choose a shorter name, or give private_domain`,
      ],
    );
    assert.match(
      problems(() => validateOptions("create", { stack_name: "Demo-", key_pair: "k" }, "http"))[0] ?? "",
      /^stack_name: ends with a hyphen, which a DNS label may not \(RFC 1035\): it names the private zone demo-\.cluster/,
    );
    const ok = validateOptions(
      "create",
      { stack_name: long, key_pair: "k", private_domain: "x.internal" },
      "library",
    );
    assert.equal(ok.stack_name, long, "a private domain of one's own makes any valid stack name fine");
    assert.match(
      problems(() =>
        validateOptions(
          "create",
          { stack_name: long, key_pair: "k", private_domain: "x.internal", public_domain: "example.com" },
          "library",
        ),
      )[0] ?? "",
      /it names the nodes a?b+\.example\.com; choose a shorter name/,
    );
    const exact = `a${"b".repeat(62)}`;
    assert.equal(
      validateOptions("create", { stack_name: exact, key_pair: "k" }, "library").stack_name,
      exact,
    );
  });

  it("the instance type must be of the nodes' architecture, and of a known family (issue 7, instance types)", () => {
    const create = (more: Record<string, unknown>) =>
      validateOptions("create", { stack_name: "demo", key_pair: "k", ...more }, "cli");
    for (const type of [
      "t4g.small",
      "m6g.large",
      "m7gd.xlarge",
      "c7gn.large",
      "r8g.medium",
      "x2gd.large",
      "im4gn.large",
      "is4gen.large",
      "a1.large",
    ]) {
      assert.equal(create({ arch: "arm64", instance_type: type }).instance_type, type);
      assert.match(
        problems(() => create({ instance_type: type }))[0] ?? "",
        /is an arm64 type but the nodes are amd64/,
      );
    }
    for (const type of [
      "t3.small",
      "m7i.large",
      "c7a.xlarge",
      "r6id.large",
      "g4dn.xlarge",
      "m7i-flex.large",
    ]) {
      assert.equal(create({ instance_type: type }).instance_type, type);
      assert.deepEqual(
        problems(() => create({ arch: "arm64", instance_type: type })),
        [
          `--instance-type (-i): "${type}" is an amd64 type but the nodes are arm64 (--arch (-a)); use a Graviton type such as t4g.small or m7g.large`,
        ],
      );
    }
    assert.match(
      problems(() => create({ instance_type: "zz9.huge" }))[0] ?? "",
      /"zz9\.huge" is not a known EC2 instance type family/,
    );
    assert.match(problems(() => create({ instance_type: "m1.small" }))[0] ?? "", /retired/);
    assert.equal(create({ arch: "arm64" }).instance_type, "t4g.small", "the defaults agree with the rule");
    assert.equal(create({}).instance_type, "t3.small");
  });

  it("does not write template.json by default outside the CLI", () => {
    assert.equal(validateOptions("build_template", {}, "library").write_path, undefined);
    assert.equal(validateOptions("build_template", {}, "cli").write_path, "template.json");
  });
});
