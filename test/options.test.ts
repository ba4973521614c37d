import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { commandNames, commandSpec, definitions } from "../src/definitions.js";
import { UsageError } from "../src/errors.js";
import { unitsFolder, validateOptions } from "../src/options.js";

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

  it("does not write template.json by default outside the CLI", () => {
    assert.equal(validateOptions("build_template", {}, "library").write_path, undefined);
    assert.equal(validateOptions("build_template", {}, "cli").write_path, "template.json");
  });
});
