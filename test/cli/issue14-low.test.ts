/**
 * Issue 14's low items on the CLI and its files: URLs padded with spaces, holding < or >, or a user
 * name and password (never echoed); build-template -p /dev/stdout written through as the shell
 * opened it; a replaced template keeps its owner; PANDACLUSTER_CONFIG naming a FIFO; the CSON parse
 * cache trusting only its own user's folder and files, never keeping a URL with a password, and
 * leaving no temporary file behind. Real processes, real files; no AWS call is made.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { promisify } from "node:util";
import { cacheEntryName, parseCson } from "../../src/cson.js";
import { binPath, runCli } from "../helpers/cli.js";

const sh = promisify(execFile);

describe("URLs given as arguments", () => {
  it("a discovery service padded with spaces, < or > in a discovery URL, a password in a URL: exit 2, the password never shown", async () => {
    const env = { HOME: mkdtempSync(join(tmpdir(), "pc-low-")) };
    const cases: [string[], RegExp][] = [
      [["--discovery-service", " http://127.0.0.1:9 "], /discovery.service: .* has spaces around it/],
      [
        ["--discovery-url", `http://d.example/<b>/${"0".repeat(32)}`],
        /discovery.url: .*without spaces, quotes, backslashes, %, < or >/,
      ],
      [
        ["--discovery-service", "https://user:hunter2@d.example"],
        /discovery.service: a URL with a user name or password/,
      ],
    ];
    for (const [extra, message] of cases) {
      const ran = await runCli(["create", "-n", "x", "-k", "k", ...extra], { env });
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, message);
      assert.ok(!ran.stderr.includes("hunter2"), ran.stderr);
    }
    for (const run of [
      () => runCli(["status", "-n", "x", "--server", "http://admin:hunter2@127.0.0.1:9"], { env }),
      () =>
        runCli(["status", "-n", "x"], {
          env: { ...env, PANDACLUSTER_SERVER: "http://admin:hunter2@127.0.0.1:9", PANDACLUSTER_TOKEN: "t" },
        }),
    ]) {
      const ran = await run();
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, /user name or password/);
      assert.ok(!`${ran.stderr}${ran.stdout}`.includes("hunter2"), ran.stderr);
    }
  });
});

describe("build-template -p into what the shell opened", () => {
  const dir = mkdtempSync(join(tmpdir(), "pc-low-write-"));
  const cli = `${process.execPath} ${binPath} build-template --offline`;
  const env = { ...process.env, HOME: dir, PANDACLUSTER_CONFIG: "", XDG_CACHE_HOME: join(dir, "cache") };

  it("-p /dev/stdout with >> app.log appends (the log keeps its content); through a pipe it works", async () => {
    const log = join(dir, "app.log");
    writeFileSync(log, "earlier line\n");
    await sh("sh", ["-c", `${cli} -p /dev/stdout >> ${log}`], { env });
    const text = readFileSync(log, "utf8");
    assert.ok(text.startsWith("earlier line\n{"), text.slice(0, 40));
    assert.equal(JSON.parse(text.slice("earlier line\n".length)).AWSTemplateFormatVersion, "2010-09-09");
    const piped = await sh("sh", ["-c", `${cli} -p /dev/stdout | wc -c`], { env });
    assert.ok(Number(piped.stdout.trim()) > 1000, piped.stdout);
    const fd = await sh("sh", ["-c", `${cli} -p /dev/fd/3 3>> ${log}`], { env });
    assert.equal(fd.stderr.includes("cannot write"), false, fd.stderr);
    assert.equal(readFileSync(log, "utf8").split("earlier line\n").length, 2, "appended again, not replaced");
  });

  it("a template file owned by another user keeps its owner (and mode) when replaced", async () => {
    assert.equal(process.getuid?.(), 0, "this test writes as root a file that belongs to another user");
    const path = join(dir, "theirs.json");
    writeFileSync(path, "{}\n");
    chownSync(path, 65534, 65534);
    chmodSync(path, 0o640);
    execFileSync(process.execPath, [binPath, "build-template", "--offline", "-p", path], {
      env,
      stdio: "pipe",
    });
    const stat = statSync(path);
    assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [65534, 65534, 0o640]);
    assert.match(readFileSync(path, "utf8"), /AWSTemplateFormatVersion/);
  });

  it("PANDACLUSTER_CONFIG naming a FIFO is refused at once (exit 2), never waits for a writer", async () => {
    const fifo = join(dir, "config.fifo");
    execFileSync("mkfifo", [fifo]);
    const started = Date.now();
    const ran = await runCli(["build-template", "--offline", "-p", join(dir, "t.json")], {
      env: { HOME: dir, PANDACLUSTER_CONFIG: fifo },
    });
    assert.equal(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, /config\.fifo: it is a FIFO, not a regular file/);
    assert.ok(Date.now() - started < 20_000);
  });
});

describe("the CSON parse cache", () => {
  let cache: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.XDG_CACHE_HOME;
    cache = mkdtempSync(join(tmpdir(), "pc-low-cache-"));
    process.env.XDG_CACHE_HOME = cache;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });
  const folder = () => join(cache, "pandacluster", "cson");
  const keyOf = (text: string, path = "u.cson") => cacheEntryName(text, path).replace(/\.json$/, "");

  it("a forged entry in a folder others may write, or a file others may write or own, is not trusted", () => {
    const text = 'units: [{name: "a.service"}]\n';
    mkdirSync(folder(), { recursive: true, mode: 0o700 });
    const entry = join(folder(), `${keyOf(text)}.json`);
    // The text has no comment: its entry keeps it (cson.ts), and serves only that text.
    const forged = JSON.stringify({ text, value: { units: [{ name: "evil.service" }] } });
    writeFileSync(entry, forged, { mode: 0o600 });
    assert.deepEqual(
      parseCson(text, "u.cson"),
      { units: [{ name: "evil.service" }] },
      "a trusted entry is used",
    );
    chmodSync(folder(), 0o777);
    assert.deepEqual(parseCson(text, "u.cson"), { units: [{ name: "a.service" }] }, "world-writable folder");
    chmodSync(folder(), 0o700);
    writeFileSync(entry, forged);
    chmodSync(entry, 0o666);
    assert.deepEqual(parseCson(text, "u.cson"), { units: [{ name: "a.service" }] }, "world-writable file");
    chmodSync(entry, 0o600);
    chownSync(entry, 65534, 65534);
    assert.deepEqual(parseCson(text, "u.cson"), { units: [{ name: "a.service" }] }, "another user's file");
  });

  it("never caches a value holding a URL with a user name or password", () => {
    parseCson('discovery_service: "https://u:pw@d.example"\n', "c.cson");
    parseCson('x: ["https://d.example", {y: "http://tok@h.example/p"}]\n', "c.cson");
    parseCson('x: ["https://d.example", {y: "http://h.example/p@1"}]\n', "c.cson");
    assert.equal(readdirSync(folder()).length, 1, "only the value without userinfo is cached");
  });

  it("a write that fails leaves no temporary file", () => {
    const text = "a: 1\n";
    // Renaming the entry over a folder fails once the temporary file is written.
    mkdirSync(join(folder(), `${keyOf(text, "t.cson")}.json`), { recursive: true });
    chmodSync(folder(), 0o700);
    assert.deepEqual(parseCson(text, "t.cson"), { a: 1 });
    assert.deepEqual(readdirSync(folder()), [`${keyOf(text, "t.cson")}.json`]);
  });
});
