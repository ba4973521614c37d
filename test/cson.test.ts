import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { cacheableConfig, loadConfig } from "../src/config.js";
import { cacheEntryName, parseCson, readCsonFile } from "../src/cson.js";
import { UsageError } from "../src/errors.js";

describe("CSON reading and its parse cache", () => {
  let cache: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.XDG_CACHE_HOME;
    cache = mkdtempSync(join(tmpdir(), "pc-cache-"));
    process.env.XDG_CACHE_HOME = cache;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });
  const entries = () => readdirSync(join(cache, "pandacluster", "cson"));

  it("parses CSON and keeps the value, keyed by the text, for the next read", () => {
    const text = 'a: 1\nb: ["x", "y"]\n# comment\nc:\n  d: true\n';
    assert.deepEqual(parseCson(text, "t.cson"), { a: 1, b: ["x", "y"], c: { d: true } });
    assert.deepEqual(entries(), [cacheEntryName(text, "t.cson")]);
    assert.match(
      cacheEntryName(text, "t.cson"),
      /^[0-9a-f]{64}\.json$/,
      "a text with a comment: its SHA-256",
    );
    const [entry] = entries();
    // A planted entry proves the second read comes from the cache, not from parsing again.
    writeFileSync(join(cache, "pandacluster", "cson", entry as string), '{"from":"cache"}');
    assert.deepEqual(parseCson(text, "t.cson"), { from: "cache" });
    assert.deepEqual((parseCson(`${text}e: 2\n`, "t.cson") as { e: number }).e, 2, "other text, other entry");
  });

  it("a text without comments is kept in its entry, which serves only that very text", () => {
    const text = 'a: 1\nb: ["x", "y"]\n';
    assert.deepEqual(parseCson(text, "t.cson"), { a: 1, b: ["x", "y"] });
    const name = cacheEntryName(text, "t.cson");
    assert.match(name, /^text-[0-9a-f]{8}-\d+\.json$/);
    const file = join(cache, "pandacluster", "cson", name);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { text, value: { a: 1, b: ["x", "y"] } });
    writeFileSync(file, JSON.stringify({ text, value: { from: "cache" } }));
    assert.deepEqual(parseCson(text, "t.cson"), { from: "cache" }, "the entry of that text is used");
    // Same path, same length, another text: the entry names it but its text differs, so it is parsed.
    const other = 'a: 2\nb: ["x", "y"]\n';
    assert.equal(cacheEntryName(other, "t.cson"), name);
    assert.deepEqual(parseCson(other, "t.cson"), { a: 2, b: ["x", "y"] });
    // A text with a comment is never kept: a secret commented out stays out of the cache.
    parseCson('# secret: "s3cr3t-commented-out"\nz: 1\n', "c.cson");
    for (const file of entries())
      assert.ok(!readFileSync(join(cache, "pandacluster", "cson", file), "utf8").includes("s3cr3t"), file);
    // A package file (publicText) keeps its text, comments and all.
    assert.match(cacheEntryName("# c\na: 1\n", "p.cson", { publicText: true }), /^text-/);
  });

  it("works without a writable cache", () => {
    const file = join(cache, "not-a-folder");
    writeFileSync(file, "");
    process.env.XDG_CACHE_HOME = file;
    assert.deepEqual(parseCson("a: 2\n", "t.cson"), { a: 2 });
  });

  it("never caches a config that holds a secret", () => {
    const path = join(cache, "config.cson");
    writeFileSync(path, 'aws:\n  id: "AKIAEXAMPLE"\n  secret: "s3cr3t-value-never-cached"\n');
    chmodSync(path, 0o600);
    assert.equal(loadConfig({ PANDACLUSTER_CONFIG: path }).config.aws?.secret, "s3cr3t-value-never-cached");
    const stored = readdirSync(cache, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".json"));
    for (const file of stored) assert.ok(!readFileSync(join(cache, file), "utf8").includes("s3cr3t"));
  });

  it("caches a config that holds only public things (region, SSH public keys, discovery service)", () => {
    const path = join(cache, "public.cson");
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b";
    writeFileSync(path, `aws:\n  region: "eu-west-1"\npublic_keys: ["${key}"]\n`, { mode: 0o600 });
    assert.deepEqual(loadConfig({ PANDACLUSTER_CONFIG: path }).config.public_keys, [key]);
    assert.equal(entries().length, 1, "the public config is in the cache");
    assert.equal(cacheableConfig({ aws: { region: "eu-west-1", id: "AKIAEXAMPLE" } }), false);
    assert.equal(cacheableConfig({ aws: { region: "eu-west-1" }, token: "x" }), false);
    assert.equal(cacheableConfig({ public_keys: ["not a key at all"] }), false);
  });

  it("never caches the config file, whatever its keys: a misspelt secret key too (issue 7, low)", () => {
    for (const text of [
      'aws:\n  aws_secret_access_key: "s3cr3t-misspelt-key"\n',
      'secretKey: "s3cr3t-camel"\n',
      'password: "s3cr3t-password"\n',
      'public_keys: ["s3cr3t-no-secret-key-at-all"]\n',
    ]) {
      const path = join(cache, "config.cson");
      writeFileSync(path, text, { mode: 0o600 });
      assert.throws(() => loadConfig({ PANDACLUSTER_CONFIG: path }), UsageError);
    }
    const stored = readdirSync(cache, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".json"));
    for (const file of stored) assert.ok(!readFileSync(join(cache, file), "utf8").includes("s3cr3t"), file);
  });

  it("never caches another CSON file with a secret-looking key at any depth", () => {
    for (const text of [
      'a: [{token: "s3cr3t-1"}]\n',
      'x:\n  db_password: "s3cr3t-2"\n',
      'AccessKeyId: "s3cr3t-3"\n',
    ]) {
      parseCson(text, "units.cson");
    }
    assert.throws(() => entries(), /ENOENT/, "nothing cached");
    parseCson('units: [{name: "a.service"}]\n', "units.cson");
    assert.equal(entries().length, 1, "a file without such keys is cached");
    // A key that only names a secret-looking thing, holding no value of one (the argument
    // definitions' private_domain), leaves the file cacheable: they are read on every command.
    parseCson('private_domain: {type: "string", max_length: 253}\n', "argument_definitions.cson");
    assert.equal(entries().length, 2, "the definitions' shape is cached");
  });

  it("a syntax error names the file, line and column; a missing file says so", () => {
    assert.throws(
      () => parseCson("a: [\n  1,\n   b: ]\n", "bad.cson"),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /^bad\.cson: line 3, column \d+: /);
        return true;
      },
    );
    assert.throws(
      () => readCsonFile("/nonexistent/x.cson"),
      /cannot read \/nonexistent\/x\.cson: no such file/,
    );
  });
});
