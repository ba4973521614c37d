/**
 * `pandacluster build-template -p PATH` end to end (issue 7 item 4): whatever is at the path is
 * never replaced by a plain file, the closing line's byte count is the file's, and an unwritable
 * place gets the system's real reason with exit 2.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { thousands } from "../../src/template/boot.js";
import { binPath, runCli } from "../helpers/cli.js";
import { charDevice, fifoReader } from "../helpers/special_files.js";

const offline = ["build-template", "--offline", "-p"];

describe("build-template -p", () => {
  it("a new file: the closing line gives the file's own size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-bt-"));
    const path = join(dir, "t.json");
    const run = await runCli([...offline, path]);
    assert.equal(run.code, 0, run.stderr);
    const size = statSync(path).size;
    assert.match(run.stderr, new RegExp(`^wrote ${path} \\(${thousands(size)} bytes in the file; `, "m"));
  });

  it("a symbolic link stays a link, and the closing line names the file written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-bt-"));
    const target = join(dir, "real.json");
    const link = join(dir, "link.json");
    symlinkSync(target, link);
    const run = await runCli([...offline, link]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.match(
      run.stderr,
      new RegExp(`^wrote ${target} \\(${thousands(statSync(target).size)} bytes in the file; `, "m"),
    );
  });

  it("a FIFO is written through to its reader and stays a FIFO", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-bt-"));
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const reader = fifoReader(fifo);
    const run = await runCli([...offline, fifo]);
    const read = await reader.text();
    assert.equal(run.code, 0, run.stderr);
    assert.ok(lstatSync(fifo).isFIFO(), "still a FIFO");
    assert.ok(JSON.parse(read).Resources);
    assert.match(
      run.stderr,
      new RegExp(`^wrote ${fifo} \\(${thousands(Buffer.byteLength(read))} bytes in the file; `, "m"),
    );
  });

  it("/dev/full: exit 2 with ENOSPC, and the device is still a device", async () => {
    const full = charDevice(mkdtempSync(join(tmpdir(), "pc-bt-")), "full");
    const run = await runCli([...offline, full]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^error: write_path: cannot write the template to ${full}: no space left on the device \\(ENOSPC\\)$`,
        "m",
      ),
    );
    assert.ok(lstatSync(full).isCharacterDevice());
  });

  it("a folder that does not exist, and a folder: the real reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-bt-"));
    const missing = await runCli([...offline, join(dir, "nope", "t.json")]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, new RegExp(`the folder ${join(dir, "nope")} does not exist \\(ENOENT\\)`));
    const folder = await runCli([...offline, dir]);
    assert.equal(folder.code, 2, folder.stderr);
    assert.match(folder.stderr, /it is a folder \(EISDIR\); nothing was written/);
  });

  it("a folder the user may not write in: EACCES (as root: run as the unprivileged user nobody)", async () => {
    const root = process.getuid?.() === 0;
    const dir = mkdtempSync(join(tmpdir(), "pc-bt-"));
    // Root's child runs as nobody, who may enter the folder, not write in it; any other user runs
    // the CLI itself, in a folder it made read-only.
    chmodSync(dir, root ? 0o755 : 0o555);
    const path = join(dir, "t.json");
    const cli = [process.execPath, binPath, ...offline, path];
    const child = root
      ? spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...cli], {
          env: { PATH: process.env.PATH, HOME: dir },
        })
      : spawn(cli[0] as string, cli.slice(1), { env: { PATH: process.env.PATH, HOME: dir } });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((done) => child.on("close", done));
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`cannot write the template to ${path}: permission denied \\(EACCES\\)`));
    assert.throws(() => readFileSync(path));
  });
});
