import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import type { BuildTemplateOptions, UnitsInput } from "../../src/options.js";
import { checkTemplateBody } from "../../src/template/build.js";
import { build_template, TEMPLATE_BODY_LIMIT } from "../../src/template/write.js";
import { KEYS } from "./support.js";

const base: BuildTemplateOptions = {
  channel: "stable",
  arch: "amd64",
  virtualization: "hvm",
  offline: true,
  provisioning: "ignition",
};

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
  it("is 51,200", () => assert.equal(TEMPLATE_BODY_LIMIT, 51_200));

  // A built template's user data is held to EC2's 16,384 bytes first, so one node kind's template
  // stays under 51,200; the check guards what grows beside it (more roles, image maps).
  it("a body of exactly 51,200 bytes is accepted; one byte more is refused, saying by how much", () => {
    const body = (bytes: number) => `{"x":"${"é".repeat(10)}${"x".repeat(bytes - 28)}"}`;
    assert.equal(Buffer.byteLength(body(TEMPLATE_BODY_LIMIT)), TEMPLATE_BODY_LIMIT);
    assert.equal(checkTemplateBody(body(TEMPLATE_BODY_LIMIT)), TEMPLATE_BODY_LIMIT);
    assert.throws(() => checkTemplateBody(body(TEMPLATE_BODY_LIMIT + 1)), {
      name: "UsageError",
      message: /^template is 51,201 bytes; CloudFormation accepts at most 51,200 in TemplateBody \(1 over\)/,
    });
    assert.throws(() => checkTemplateBody(body(TEMPLATE_BODY_LIMIT + 9_000)), {
      name: "UsageError",
      message:
        /^template is 60,200 bytes; CloudFormation accepts at most 51,200 in TemplateBody \(9,000 over\)/,
    });
  });

  it("build_template refuses user data over EC2's limit before writing anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-write-"));
    const path = join(dir, "t.json");
    // Random text does not compress: gzip cannot bring it under 16,384 bytes.
    const noise = randomBytes(30_000)
      .toString("base64")
      .replace(/(.{76})/g, "# $1\n");
    const units: UnitsInput = { units: [{ name: "big.service", content_text: noise }], source: "inline" };
    await assert.rejects(build_template({ ...base, units, write_path: path }), {
      name: "UsageError",
      message: /^the Ignition user data is [\d,]+ bytes .*; EC2 accepts at most 16,384 bytes of user data/,
    });
    assert.equal(existsSync(path), false);
  });
});
