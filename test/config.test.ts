import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../src/config.js";
import { UsageError } from "../src/errors.js";
import { runCli } from "./helpers/cli.js";

const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host";

function configFile(text: string, mode = 0o600): string {
  const path = join(mkdtempSync(join(tmpdir(), "pc-config-")), "pandacluster.cson");
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function loadError(path: string): UsageError {
  try {
    loadConfig({ PANDACLUSTER_CONFIG: path });
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error;
  }
  assert.fail("expected a UsageError");
}

describe("~/.pandacluster.cson", () => {
  it("a missing ~/.pandacluster.cson is an empty config", () => {
    const home = mkdtempSync(join(tmpdir(), "pc-home-"));
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const loaded = loadConfig({});
      assert.deepEqual(loaded.config, {});
      assert.equal(loaded.path, undefined);
    } finally {
      process.env.HOME = saved;
    }
  });

  it("PANDACLUSTER_CONFIG naming a missing file is an error naming it (issue 7 item 8)", () => {
    assert.match(
      loadError("/nonexistent/x.cson").message,
      /^PANDACLUSTER_CONFIG names \/nonexistent\/x\.cson, which does not exist$/,
    );
  });

  it("the CLI exits 2 naming the file PANDACLUSTER_CONFIG names when it is missing, and does nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pc-config-"));
    const missing = join(dir, "typo.cson");
    const run = await runCli(["build-template", "--offline", "-p", join(dir, "t.json")], {
      env: { PANDACLUSTER_CONFIG: missing },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      `error: PANDACLUSTER_CONFIG names ${missing}, which does not exist\nsee \`pandacluster build-template --help\`\n`,
    );
    assert.deepEqual(readdirSync(dir), [], "no template written");
  });

  it("reads aws, public_keys and discovery_service", () => {
    const path = configFile(
      `aws:\n  id: "AKIAEXAMPLE"\n  secret: "${secret}"\n  region: "eu-west-1"\npublic_keys: ["${key}"]\ndiscovery_service: "http://127.0.0.1:4001"\n`,
    );
    const loaded = loadConfig({ PANDACLUSTER_CONFIG: path });
    assert.deepEqual(loaded.config, {
      aws: { id: "AKIAEXAMPLE", secret, region: "eu-west-1" },
      public_keys: [key],
      discovery_service: "http://127.0.0.1:4001",
    });
    assert.deepEqual(loaded.warnings, []);
  });

  it("warns, as ssh does, when a file holding a secret is readable by others, without showing it", () => {
    const path = configFile(`aws:\n  id: "AKIAEXAMPLE"\n  secret: "${secret}"\n`, 0o644);
    const { warnings } = loadConfig({ PANDACLUSTER_CONFIG: path });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /readable by others \(mode 644\); run: chmod 600/);
    assert.ok(!warnings[0]?.includes(secret));
  });

  it("does not warn about a readable file that holds no secret", () => {
    const path = configFile(`public_keys: ["${key}"]\n`, 0o644);
    assert.deepEqual(loadConfig({ PANDACLUSTER_CONFIG: path }).warnings, []);
  });

  it("malformed CSON names the file and the line", () => {
    const path = configFile('aws:\n  region: "eu-west-1"\npublic_keys: [\n  "a",\n   b: ]\n');
    assert.match(loadError(path).message, new RegExp(`^${path}: line 5`));
  });

  it("a public key that is not one names its position and never echoes the value", () => {
    const path = configFile(`public_keys: ["${key}", "${secret}"]\n`);
    const error = loadError(path);
    assert.match(error.message, /public_keys\[1\]: is not an SSH public key/);
    assert.ok(!error.message.includes(secret));
  });

  it("refuses an id without a secret and unknown entries, never echoing values", () => {
    const error = loadError(configFile(`aws:\n  id: "AKIAEXAMPLE"\n  token: "${secret}"\n`));
    assert.match(error.message, /aws\.token: unknown entry/);
    assert.match(error.message, /aws: id and secret go together/);
    assert.ok(!error.message.includes(secret));
  });

  it("the CLI exits 2 on a malformed config and prints its warnings on stderr", async () => {
    const bad = configFile("public_keys: [\n");
    const run = await runCli(["build-template", "--offline", "-p", "-"], {
      env: { PANDACLUSTER_CONFIG: bad },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`error: ${bad}: `));

    const open = configFile(
      `aws:\n  id: "AKIAEXAMPLE"\n  secret: "${secret}"\npublic_keys: ["${key}"]\n`,
      0o640,
    );
    const warned = await runCli(["build-template", "--offline", "-p", "-"], {
      env: { PANDACLUSTER_CONFIG: open },
    });
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /warning: .* holds an AWS secret and is readable by others/);
    assert.ok(!warned.stderr.includes(secret) && !warned.stdout.includes(secret));
  });
});
