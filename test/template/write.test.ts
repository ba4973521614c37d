import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import type { BuildTemplateOptions, UnitsInput } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { build_template, TEMPLATE_BODY_LIMIT } from "../../src/template/write.js";
import { KEYS } from "./support.js";

const base: BuildTemplateOptions = { channel: "stable", arch: "amd64", virtualization: "hvm", offline: true };

describe("build_template (the library's)", () => {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pandacluster-write-"));
    cwd = process.cwd();
    process.chdir(dir);
  });
  afterEach(() => process.chdir(cwd));

  it("writes the template to write_path, with a final newline, and returns it", async () => {
    const path = join(dir, "cluster.json");
    const result = await build_template({ ...base, write_path: path }, { public_keys: KEYS });
    assert.equal(result.written_to, path);
    const text = readFileSync(path, "utf8");
    assert.equal(text, `${JSON.stringify(result.template, null, 2)}\n`, "indented for people, final newline");
    assert.deepEqual(JSON.parse(text), result.template);
    assert.equal(result.bytes, Buffer.byteLength(result.body));
    assert.equal(result.image_map.source, "none");
    assert.deepEqual(readdirSync(dir), ["cluster.json"], "no temporary file left behind");
  });

  it("a relative write_path is taken from the working folder; an existing file is replaced", async () => {
    writeFileSync(join(dir, "template.json"), "old");
    const result = await build_template({ ...base, write_path: "template.json" });
    assert.equal(result.written_to, join(process.cwd(), "template.json"));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "template.json"), "utf8")), result.template);
  });

  it("without write_path (absent or false) it only returns the template", async () => {
    for (const write_path of [undefined, false] as const) {
      const result = await build_template({ ...base, write_path });
      assert.equal(result.written_to, undefined);
      assert.ok(result.template.Resources.AutoScalingGroup);
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it('write_path "-" is left to the caller to print: nothing is written', async () => {
    const result = await build_template({ ...base, write_path: "-" });
    assert.equal(result.written_to, undefined);
    assert.deepEqual(JSON.parse(result.body), result.template);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("notices go to hooks.notice and into the result", async () => {
    const lines: string[] = [];
    const result = await build_template(base, {}, { notice: (line) => lines.push(line) });
    assert.ok(lines.length >= 1);
    assert.deepEqual(lines, result.notices);
    assert.ok(lines.some((l) => l.startsWith("offline:")));
  });

  it("a path that cannot be written is a UsageError naming the path", async () => {
    const missing = join(dir, "no", "such", "t.json");
    await assert.rejects(build_template({ ...base, write_path: missing }), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, new RegExp(`cannot write the template to ${missing}: no such folder`));
      return true;
    });
    await assert.rejects(build_template({ ...base, write_path: dir }), {
      name: "UsageError",
      message: new RegExp(`${dir}: it is a folder`),
    });
    assert.deepEqual(readdirSync(dir), [], "no temporary file left behind");
  });
});

describe("CloudFormation's 51,200-byte TemplateBody limit", () => {
  const big = (length: number): UnitsInput => ({
    units: [{ name: "big.service", content_text: "x".repeat(length) }],
    source: "inline",
  });
  const build = (length: number) => buildTemplate({ ...base, units: big(length) }, {});

  it("is 51,200", () => assert.equal(TEMPLATE_BODY_LIMIT, 51_200));

  it("a template of up to 51,200 bytes is accepted; one byte more is refused, saying by how much", async () => {
    const small = await build(1000);
    // The units go into both launch templates (controllers' and workers'): each character counts twice.
    const perChar = (await build(1001)).bytes - small.bytes;
    assert.equal(perChar, 2);
    const fitting = 1000 + Math.floor((TEMPLATE_BODY_LIMIT - small.bytes) / perChar);
    const fit = await build(fitting);
    assert.ok(
      fit.bytes <= TEMPLATE_BODY_LIMIT && fit.bytes > TEMPLATE_BODY_LIMIT - perChar,
      String(fit.bytes),
    );
    const over = fit.bytes + perChar - TEMPLATE_BODY_LIMIT;
    await assert.rejects(build(fitting + 1), {
      name: "UsageError",
      message: new RegExp(
        `^template is 51,20${fit.bytes + perChar - 51_200} bytes; CloudFormation accepts at most 51,200 in TemplateBody \\(${over} over\\)`,
      ),
    });
    await assert.rejects(build(fitting + 4_500), {
      name: "UsageError",
      message:
        /^template is 60,\d{3} bytes; CloudFormation accepts at most 51,200 in TemplateBody \(9,00\d over\)/,
    });
  });

  it("build_template refuses it too, and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-write-"));
    const path = join(dir, "t.json");
    await assert.rejects(build_template({ ...base, units: big(60_000), write_path: path }), {
      name: "UsageError",
      message:
        /^template is [\d,]+ bytes; CloudFormation accepts at most 51,200 in TemplateBody \([\d,]+ over\)/,
    });
    assert.equal(existsSync(path), false);
  });
});
