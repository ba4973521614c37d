/** Where AWS calls go and with which credentials: region order, config keys, the standard chain. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { awsClients, resolveRegion } from "../../src/aws/clients.js";
import { UsageError } from "../../src/errors.js";

const saved = { ...process.env };
beforeEach(() => {
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-aws-"));
  writeFileSync(join(dir, "config"), "[profile work]\nregion = ap-south-1\n");
  writeFileSync(
    join(dir, "credentials"),
    "[work]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n",
  );
  process.env.AWS_CONFIG_FILE = join(dir, "config");
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "credentials");
  process.env.AWS_EC2_METADATA_DISABLED = "true";
});
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe("resolveRegion", () => {
  it("takes --region first, then the config's aws.region, then AWS_REGION, then the profile", async () => {
    process.env.AWS_REGION = "eu-west-1";
    const config = { aws: { region: "us-west-2" } };
    assert.equal(await resolveRegion(config, { region: "eu-central-1", profile: "work" }), "eu-central-1");
    assert.equal(await resolveRegion(config, { profile: "work" }), "us-west-2");
    assert.equal(await resolveRegion({}, {}), "eu-west-1");
    delete process.env.AWS_REGION;
    assert.equal(await resolveRegion({}, { profile: "work" }), "ap-south-1");
  });

  it("is a UsageError that says where a region can come from when there is none", async () => {
    await assert.rejects(resolveRegion({}, {}), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /--region \(-r\)/);
      assert.match(error.message, /aws\.region/);
      assert.match(error.message, /AWS_REGION/);
      return true;
    });
  });
});

describe("awsClients", () => {
  it("uses the config file's keys when it has them", async () => {
    const clients = awsClients({ aws: { id: "AKIDCONFIG", secret: "s3cret" } }, { region: "us-east-1" });
    const identity = await clients.ec2.config.credentials();
    assert.equal(identity.accessKeyId, "AKIDCONFIG");
    assert.equal(await clients.cloudformation.config.region(), "us-east-1");
  });

  it("else the standard chain, with --profile", async () => {
    const clients = awsClients({}, { region: "us-east-1", profile: "work" });
    assert.equal((await clients.route53.config.credentials()).accessKeyId, "AKIDPROFILE");
  });

  it("is reused for the same credentials, region and profile", () => {
    const config = {};
    assert.equal(awsClients(config, { region: "us-east-1" }), awsClients(config, { region: "us-east-1" }));
    assert.notEqual(awsClients(config, { region: "us-east-1" }), awsClients(config, { region: "eu-west-1" }));
  });

  it("retries several times, adaptively", async () => {
    const clients = awsClients({ aws: { id: "a", secret: "b" } }, { region: "us-east-1" });
    assert.equal(await clients.cloudformation.config.maxAttempts(), 6);
    const strategy = (await clients.cloudformation.config.retryStrategy()) as { mode?: string };
    assert.equal(strategy.mode, "adaptive");
  });
});
