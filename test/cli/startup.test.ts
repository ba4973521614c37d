/**
 * How bin/pandacluster starts: the bundled CLI (dist/bundle/cli.cjs, the front door, and
 * dist/bundle/commands.cjs, loaded only when a command runs) compiled with a V8 code cache in the
 * user's cache folder. The cache is private, one per command, never used across builds or Node
 * versions, and a cache V8 rejects (corrupt, or another build's) only costs a compile: the command's
 * output is the same with or without it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { helpText } from "../../src/cli/help.js";
import { repoRoot, runCli } from "../helpers/cli.js";

/** The cache bin/pandacluster keeps for a bundle (cli: the front door; commands) and a command. */
function cacheName(bundle: "cli" | "commands" | "build-template", word: string): string {
  const stat = statSync(join(repoRoot, "dist", "bundle", `${bundle}.cjs`));
  return `${bundle}-${process.version}-${process.arch}-${stat.size}-${Math.trunc(stat.mtimeMs)}.${word}.bin`;
}

describe("start-up: the bundle and its code cache", () => {
  it("the first run writes a private cache for its command; later runs use it and print the same", async () => {
    const cache = mkdtempSync(join(tmpdir(), "pandacluster-v8-"));
    const env = { XDG_CACHE_HOME: cache };
    const first = await runCli(["--help"], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, helpText("main"));
    const dir = join(cache, "pandacluster", "v8");
    const file = join(dir, cacheName("cli", "main"));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir), [cacheName("cli", "main")], "--help never loads the commands");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const written = statSync(file).mtimeMs;
    const again = await runCli(["--help"], { env });
    assert.equal(again.stdout, first.stdout);
    assert.equal(statSync(file).mtimeMs, written, "an accepted cache is not written again");

    const status = await runCli(["status", "-n", "x", "-o", "xml"], { env });
    assert.equal(status.code, 2);
    assert.deepEqual(
      readdirSync(dir).sort(),
      [cacheName("cli", "main"), cacheName("cli", "status"), cacheName("commands", "status")].sort(),
      "one cache per bundle and command",
    );
  });

  it("build-template loads its own bundle (without the other commands' code), with its own cache", async () => {
    const cache = mkdtempSync(join(tmpdir(), "pandacluster-v8-"));
    const env = { XDG_CACHE_HOME: cache };
    const first = await runCli(["build-template", "--offline", "-p", "-"], { env });
    assert.equal(first.code, 0, first.stderr);
    const dir = join(cache, "pandacluster", "v8");
    assert.deepEqual(
      readdirSync(dir).sort(),
      [cacheName("cli", "build-template"), cacheName("build-template", "build-template")].sort(),
      "commands.cjs is not loaded",
    );
    const again = await runCli(["build-template", "--offline", "-p", "-"], { env });
    assert.equal(again.stdout, first.stdout, "the same template from the cache");
    assert.equal(again.stderr, first.stderr);
    // The same command through the full commands bundle (its other spelling) builds the same template.
    const full = await runCli(["build_template", "--offline", "-p", "-"], { env });
    assert.equal(full.stdout, first.stdout);
    assert.ok(readdirSync(dir).includes(cacheName("commands", "build_template")));
  });

  it("a cache V8 rejects is replaced, and the command runs the same; other builds' caches are removed", async () => {
    const cache = mkdtempSync(join(tmpdir(), "pandacluster-v8-"));
    const dir = join(cache, "pandacluster", "v8");
    const env = { XDG_CACHE_HOME: cache };
    await runCli(["--version"], { env });
    const file = join(dir, cacheName("cli", "main"));
    writeFileSync(file, Buffer.alloc(4096, 7));
    writeFileSync(join(dir, "cli-v0.0.0-x64-1-1.main.bin"), "an older build's cache");
    const run = await runCli(["--version"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^pandacluster \d+\.\d+\.\d+/);
    assert.notDeepEqual(readFileSync(file), Buffer.alloc(4096, 7), "the rejected cache was rewritten");
    assert.deepEqual(readdirSync(dir), [cacheName("cli", "main")]);
  });

  it("an unwritable cache folder only costs a compile", async () => {
    const run = await runCli(["--version"], { env: { XDG_CACHE_HOME: "/nonexistent/cache" } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
  });
});
