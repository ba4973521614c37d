import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";

/**
 * A HOME whose ~/.aws/config holds one profile, "other". Keys in the environment and a profile
 * together are what made the SDK print its multi-line warning; the endpoint is a closed loopback
 * port, so a run that got as far as an AWS call would fail there, with another message.
 */
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "pc-profile-"));
  mkdirSync(join(dir, ".aws"));
  writeFileSync(join(dir, ".aws", "config"), "[profile other]\nregion = us-east-1\n");
  return dir;
}

const env = (dir: string) => ({
  HOME: dir,
  AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  AWS_EC2_METADATA_DISABLED: "true",
});

describe("--profile naming a profile that is in neither shared file", () => {
  const dir = home();
  for (const args of [
    ["create", "-n", "x", "-k", "k"],
    ["status", "-n", "x"],
    ["destroy", "-n", "x"],
    ["list"],
  ]) {
    it(`${args[0]}: one line naming the profile and the files, exit 2, before any AWS call`, async () => {
      const run = await runCli([...args, "--profile", "nosuch", "-r", "us-east-1"], { env: env(dir) });
      assert.equal(run.code, 2, run.stderr);
      const [first, ...rest] = run.stderr.trimEnd().split("\n");
      assert.equal(
        first,
        'error: --profile: AWS profile "nosuch" does not exist in the shared config/credentials files ' +
          "(AWS_CONFIG_FILE or ~/.aws/config, AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)",
      );
      assert.deepEqual(rest, [`see \`pandacluster ${args[0]} --help\``]);
      assert.doesNotMatch(run.stderr, /@aws-sdk|Multiple credential|warn|127\.0\.0\.1|ECONNREFUSED/i);
    });
  }

  it("names the files the variables point at when they are set", async () => {
    const config = join(dir, "elsewhere-config");
    writeFileSync(config, "[profile third]\n");
    const run = await runCli(["status", "-n", "x", "--profile", "nosuch", "-r", "us-east-1"], {
      env: { ...env(dir), AWS_CONFIG_FILE: config },
    });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      new RegExp(`AWS_CONFIG_FILE=${config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, `),
    );
  });

  it("a profile that exists passes the check (the run goes on to the AWS call)", async () => {
    const run = await runCli(["status", "-n", "x", "--profile", "other", "-r", "us-east-1"], {
      env: env(dir),
      timeoutMs: 60_000,
    });
    assert.doesNotMatch(run.stderr, /does not exist in the shared/);
    assert.equal(run.code, 1, run.stderr);
  });
});
