/**
 * src/aws/role_credentials.ts against moto with the pandacluster_moto fixes (AssumeRole checks the
 * role's trust policy and its sts:ExternalId condition, as AWS does): one AssumeRole shared by
 * concurrent askers, kept until 5 minutes before it expires (the provider's clock is moved, not
 * waited for), asked again after that; a wrong external id is AWS's AccessDenied, not cached; the
 * session name fits STS's constraint. AssumeRole calls are counted by the metrics' observer.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { onAwsCall } from "../../src/aws/observe.js";
import {
  AssumeRoleError,
  assumedRoleProvider,
  refreshMarginMs,
  roleAccount,
  sessionNameFor,
} from "../../src/aws/role_credentials.js";
import { awsEnv, type Moto, startMoto } from "../helpers/services.js";

let moto: Moto;
const saved = { ...process.env };
const roleArn = "arn:aws:iam::123456789012:role/pandacluster-test";

before(async () => {
  moto = await startMoto({ fixes: true });
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(moto.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  const trust = {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::123456789012:root" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": "pc-right" } },
      },
    ],
  };
  execFileSync(
    "aws",
    [
      "iam",
      "create-role",
      "--role-name",
      "pandacluster-test",
      "--assume-role-policy-document",
      JSON.stringify(trust),
    ],
    { env: process.env },
  );
});
after(async () => {
  process.env = saved;
  await moto?.stop();
});

function countAssumes(): { count: () => number; stop: () => void } {
  let n = 0;
  const stop = onAwsCall((call) => {
    if (call.service === "sts" && call.operation === "AssumeRole") n += 1;
  });
  return { count: () => n, stop };
}

describe("assumed-role credentials", () => {
  it("one AssumeRole for concurrent askers, kept until 5 minutes before expiry, then asked again", async () => {
    let now = Date.now();
    const provider = assumedRoleProvider(
      undefined,
      { role_arn: roleArn, external_id: "pc-right", session_name: "pandacluster-t", region: "us-east-1" },
      () => now,
    );
    const assumes = countAssumes();
    try {
      const [a, b] = await Promise.all([provider(), provider()]);
      assert.equal(assumes.count(), 1);
      assert.equal(a, b);
      assert.match(a.accessKeyId, /^ASIA/);
      assert.ok(a.sessionToken.length > 0);
      const lifetime = a.expiration.getTime() - now;
      assert.ok(lifetime > 55 * 60_000 && lifetime <= 60 * 60_000 + 5_000, `one hour (${lifetime} ms)`);

      now = a.expiration.getTime() - refreshMarginMs - 60_000;
      assert.equal(await provider(), a, "still cached 6 minutes before expiry");
      assert.equal(assumes.count(), 1);

      now = a.expiration.getTime() - refreshMarginMs + 60_000;
      const c = await provider();
      assert.equal(assumes.count(), 2, "asked again 4 minutes before expiry");
      assert.notEqual(c.accessKeyId, a.accessKeyId);
    } finally {
      assumes.stop();
    }
  });

  it("a wrong external id or a role that does not exist: AWS's AccessDenied, named, not kept", async () => {
    const assumes = countAssumes();
    try {
      for (const [arn, externalId] of [
        [roleArn, "pc-wrong"],
        ["arn:aws:iam::123456789012:role/no-such-role", "pc-right"],
      ] as const) {
        const provider = assumedRoleProvider(undefined, {
          role_arn: arn,
          external_id: externalId,
          session_name: "pandacluster-t",
          region: "us-east-1",
        });
        for (let attempt = 0; attempt < 2; attempt += 1) {
          await assert.rejects(provider(), (error: unknown) => {
            assert.ok(error instanceof AssumeRoleError);
            assert.equal(error.transient, false);
            assert.match(
              error.message,
              new RegExp(
                `^assuming the IAM role ${arn.replaceAll("/", "\\/")} \\(STS AssumeRole, session pandacluster-t\\) failed: AccessDenied: User: .* is not authorized to perform: sts:AssumeRole on resource: `,
              ),
            );
            return true;
          });
        }
      }
      assert.equal(assumes.count(), 4, "a failure is not cached: each call asks STS");
    } finally {
      assumes.stop();
    }
  });

  it("session names fit STS (2–64 of [\\w+=,.@-]); the role's account comes from its ARN", () => {
    assert.equal(sessionNameFor("alice"), "pandacluster-alice");
    const long = sessionNameFor(`a${"b".repeat(62)}`);
    assert.equal(long.length, 64);
    assert.match(sessionNameFor("x.y_z-1"), /^[\w+=,.@-]{2,64}$/);
    assert.equal(roleAccount("arn:aws:iam::111122223333:role/path/name"), "111122223333");
    assert.equal(roleAccount("arn:aws-cn:iam::111122223333:role/n"), "111122223333");
    assert.equal(roleAccount("arn:aws:iam::1111:role/n"), undefined);
    assert.equal(roleAccount("arn:aws:iam::111122223333:user/n"), undefined);
  });
});
