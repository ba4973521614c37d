/**
 * The CLI's stderr (src/cli/stdio.ts): lines go to the descriptor with fs.writeSync, and
 * process.stderr is made only for what needs it. Checked through a real FIFO, whose kernel buffer
 * fills as a pipe's does: a descriptor left non-blocking answers EAGAIN then, and the rest must reach
 * the fallback stream in order, nothing lost and nothing written twice.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { directWriter } from "../../src/cli/stdio.js";
import { runCli } from "../helpers/cli.js";

/** A stand-in for process.stderr that keeps what it is given, and counts how often it was asked for. */
function collector() {
  const chunks: Buffer[] = [];
  let made = 0;
  const stream = {
    isTTY: false,
    write(chunk: string | Uint8Array, callback?: () => void) {
      chunks.push(Buffer.from(chunk));
      callback?.();
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return {
    fallback: () => {
      made += 1;
      return stream;
    },
    text: () => Buffer.concat(chunks).toString(),
    made: () => made,
  };
}

/** Everything a non-blocking descriptor holds now. */
function drain(fd: number): string {
  const parts: Buffer[] = [];
  const buffer = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      parts.push(Buffer.from(buffer.subarray(0, n)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") break;
      throw error;
    }
  }
  return Buffer.concat(parts).toString();
}

describe("the CLI's stderr", () => {
  it("writes lines straight to the descriptor, without making process.stderr", () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-stdio-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const sink = collector();
      const out = directWriter(fd, sink.fallback);
      let called = false;
      assert.equal(
        out.write("é line\n", () => {
          called = true;
        }),
        true,
      );
      out.write(Buffer.from("bytes\n"));
      assert.equal(drain(fd), "é line\nbytes\n");
      assert.equal(sink.made(), 0, "process.stderr was never needed");
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          assert.ok(called, "the callback ran");
          resolve();
        }),
      );
    } finally {
      closeSync(fd);
    }
  });

  it("when the descriptor answers EAGAIN (a full non-blocking pipe), the rest goes to process.stderr in order", () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-stdio-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const sink = collector();
      const out = directWriter(fd, sink.fallback);
      // More than a pipe's buffer (64 KiB on Linux): the kernel takes part of it, then EAGAIN.
      const big = Array.from(
        { length: 4000 },
        (_, i) => `line ${String(i).padStart(5, "0")} ${"x".repeat(40)}\n`,
      );
      out.write(big.join(""));
      out.write("after\n");
      const direct = drain(fd);
      assert.ok(direct.length > 0 && direct.length < big.join("").length, "part went to the descriptor");
      assert.equal(direct + sink.text(), `${big.join("")}after\n`, "nothing lost, nothing twice, in order");
      assert.ok(sink.text().endsWith("after\n"), "later lines follow the handed-over rest");
    } finally {
      closeSync(fd);
    }
  });

  it("anything but write() is the real stream's", () => {
    const sink = collector();
    const out = directWriter(2, sink.fallback) as NodeJS.WritableStream & { isTTY?: boolean };
    assert.equal(out.isTTY, false);
    assert.equal(sink.made(), 1);
  });

  it("the CLI's notices reach a piped stderr whole (build-template)", async () => {
    const run = await runCli(["build-template", "--offline", "-p", "-"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^offline: the template has no image map; pass the image id as ImageId\n/);
    assert.match(
      run.stderr,
      /\nwrote the template to standard output \(TemplateBody [\d,]+ of 51,200 bytes; .*\)\n$/,
    );
    assert.ok(JSON.parse(run.stdout).Resources, "the template on stdout");
  });
});
