import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import type { BuildTemplateOptions, UnitsInput } from "../../src/options.js";
import { checkTemplateBody } from "../../src/template/build.js";
import { build_template, TEMPLATE_BODY_LIMIT } from "../../src/template/write.js";
import { distModule, runUnprivileged } from "../helpers/harness.js";
import { charDevice, fifoReader } from "../helpers/special_files.js";
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
      assert.match(
        error.message,
        new RegExp(
          `cannot write the template to ${missing}: the folder ${join(dir, "no", "such")} does not exist \\(ENOENT\\)`,
        ),
      );
      return true;
    });
    await assert.rejects(build_template({ ...base, write_path: dir }), {
      name: "UsageError",
      message: new RegExp(`${dir}: it is a folder \\(EISDIR\\)`),
    });
    assert.deepEqual(readdirSync(dir), [], "no temporary file left behind");
  });
});

describe("build_template never replaces what is at write_path with something else (issue 7 item 4)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pandacluster-write-"));
  });

  it("a symbolic link stays a link; the file it leads to gets the template", async () => {
    const target = join(dir, "real.json");
    writeFileSync(target, "old");
    const link = join(dir, "link.json");
    symlinkSync("real.json", link);
    const result = await build_template({ ...base, write_path: link });
    assert.ok(lstatSync(link).isSymbolicLink(), "the link is still a link");
    assert.deepEqual(JSON.parse(readFileSync(target, "utf8")), result.template);
    assert.equal(result.written_to, target);
    assert.equal(result.written_bytes, statSync(target).size);
    assert.deepEqual(readdirSync(dir).sort(), ["link.json", "real.json"], "no temporary file left behind");
  });

  it("a dangling link: the file it names is created, the link stays", async () => {
    mkdirSync(join(dir, "sub"));
    const link = join(dir, "link.json");
    symlinkSync(join("sub", "new.json"), link);
    const result = await build_template({ ...base, write_path: link });
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "sub", "new.json"), "utf8")), result.template);
  });

  it("an existing file keeps its permission bits; the byte count is the file's", async () => {
    const path = join(dir, "t.json");
    writeFileSync(path, "old");
    chmodSync(path, 0o640);
    const result = await build_template({ ...base, write_path: path });
    assert.equal(statSync(path).mode & 0o777, 0o640);
    assert.equal(result.written_bytes, statSync(path).size);
    assert.notEqual(result.written_bytes, result.bytes, "the file is indented, CreateStack's body is not");
  });

  it("a FIFO is written through and stays a FIFO", async () => {
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const reader = fifoReader(fifo);
    const result = await build_template({ ...base, write_path: fifo });
    const read = await reader.text();
    assert.deepEqual(JSON.parse(read), result.template);
    assert.equal(result.written_bytes, Buffer.byteLength(read));
    assert.ok(lstatSync(fifo).isFIFO(), "still a FIFO");
    assert.deepEqual(readdirSync(dir), ["pipe"]);
  });

  it("/dev/null is written through and stays a character device", async () => {
    const devNull = charDevice(dir, "null");
    const result = await build_template({ ...base, write_path: devNull });
    assert.equal(result.written_to, devNull);
    assert.ok(lstatSync(devNull).isCharacterDevice());
  });

  it("/dev/full: the real reason (ENOSPC), and it stays a device", async () => {
    const full = charDevice(dir, "full");
    await assert.rejects(build_template({ ...base, write_path: full }), {
      name: "UsageError",
      message: new RegExp(
        `^write_path: cannot write the template to ${full}: no space left on the device \\(ENOSPC\\)$`,
      ),
    });
    assert.ok(lstatSync(full).isCharacterDevice());
  });

  it("a read-only folder: permission denied (EACCES), as a user other than root sees it", async () => {
    // Root may write anywhere, so the build runs in a child process as nobody (runUnprivileged);
    // the same build into a folder nobody may write in first shows that the child builds at all.
    const write = (folder: string) =>
      runUnprivileged(`
        import { build_template } from ${JSON.stringify(distModule("src/template/write.js"))};
        try {
          const result = await build_template(${JSON.stringify({ ...base, write_path: join(folder, "t.json") })});
          console.log("written " + result.written_to);
        } catch (error) {
          console.log(error.name + ": " + error.message);
        }
      `);
    const open = join(dir, "open");
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    chmodSync(dir, 0o755);
    const written = await write(open);
    assert.equal(written.stdout.trim(), `written ${join(open, "t.json")}`, written.stderr);
    const readOnly = join(dir, "read-only");
    mkdirSync(readOnly, { mode: 0o555 });
    const refused = await write(readOnly);
    assert.match(refused.stdout, /^UsageError: .*permission denied \(EACCES\)/, refused.stderr);
    assert.ok(!existsSync(join(readOnly, "t.json")));
  });

  it("a path through a file: ENOTDIR", async () => {
    writeFileSync(join(dir, "file"), "");
    await assert.rejects(build_template({ ...base, write_path: join(dir, "file", "t.json") }), {
      message: /a part of the path is not a folder \(ENOTDIR\)/,
    });
  });

  it("a link loop: ELOOP", async () => {
    symlinkSync("b", join(dir, "a"));
    symlinkSync("a", join(dir, "b"));
    await assert.rejects(build_template({ ...base, write_path: join(dir, "a") }), {
      message: /too many levels of symbolic links \(ELOOP\)/,
    });
    assert.ok(lstatSync(join(dir, "a")).isSymbolicLink());
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
