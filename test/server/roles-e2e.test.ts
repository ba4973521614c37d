/**
 * Profiles that hold an IAM role (issue 19), end to end against the moto emulator with the
 * pandacluster_moto fixes (its sts-assume-role-trust fix makes AssumeRole check the role's trust
 * policy and its sts:ExternalId condition, as AWS does) and a local etcd discovery service. Every
 * AWS request goes through a recording proxy that reads the access key id each one is signed with:
 * the profile's calls must carry the assumed role's temporary key, never the server's own.
 * The role is made with the AWS CLI (an independent client), as an admin would. Run on a SQLite
 * store and on PostgreSQL (the role columns and the metrics read from the store on both).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { CreateKeyPairCommand, EC2Client } from "@aws-sdk/client-ec2";
import parsePrometheus from "parse-prometheus-text-format";
import { type CountingProxy, countingProxy } from "../helpers/counting-proxy.js";
import {
  awsEnv,
  type Discovery,
  type Moto,
  type Postgres,
  startDiscovery,
  startPostgres,
} from "../helpers/services.js";
import { admin, eventually, startSerialMoto, type TestServer, testServer } from "./helpers.js";

let moto: Moto;
let discovery: Discovery;
let proxy: CountingProxy;
/** The server's own access key id (awsEnv): what no call of a role profile may be signed with. */
const serverKey = "testing";
let postgres: Postgres;

before(async () => {
  [moto, discovery, postgres] = await Promise.all([startSerialMoto(), startDiscovery(), startPostgres()]);
  proxy = await countingProxy(moto.endpoint);
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(proxy.endpoint), {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  await new EC2Client({}).send(new CreateKeyPairCommand({ KeyName: "k" }));
});
after(async () => {
  proxy?.close();
  await Promise.all([moto?.stop(), discovery?.stop(), postgres?.stop()]);
});

/** The trust policy doc/iam gives, for this external id (the server's account is the caller). */
function trustPolicy(externalId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::123456789012:root" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": externalId } },
      },
    ],
  });
}

/** The AWS CLI, against moto directly (not through the proxy: its calls are not the server's). */
function aws(...args: string[]): string {
  return execFileSync("aws", args, { env: { ...process.env, ...awsEnv(moto.endpoint) }, encoding: "utf8" });
}

// biome-ignore lint/suspicious/noExplicitAny: a test reads whichever fields of the answer it checks
type Json = any;

async function get(t: TestServer, headers: Record<string, string>, url: string): Promise<Json> {
  return (await t.server.app.inject({ method: "GET", url, headers })).json();
}

async function until(t: TestServer, headers: Record<string, string>, name: string, statuses: string[]) {
  return eventually(
    async () => {
      const got = await get(t, headers, `/clusters/${name}`);
      return statuses.includes(got.status) ? got : undefined;
    },
    90_000,
    `${name} to be ${statuses.join(" or ")}`,
  );
}

describe("profiles with an IAM role (moto, recording proxy)", () => {
  for (const engine of ["SQLite", "PostgreSQL"] as const)
    it(`${engine}: create, scale and delete with the assumed role's temporary key only; a wrong external id fails the job with AWS's reason`, async () => {
      const roleName = `pandacluster-deployer-${engine.toLowerCase()}`;
      const roleArn = `arn:aws:iam::123456789012:role/${roleName}`;
      const t = await testServer({
        pollIntervalMs: 200,
        ...(engine === "PostgreSQL" ? { db: await postgres.createDatabase() } : {}),
        env: { PANDACLUSTER_DISCOVERY_SERVICES: discovery.url, PANDACLUSTER_SECRET_KEY: "ab".repeat(32) },
      });
      try {
        const made = await t.server.app.inject({
          method: "POST",
          url: "/profiles",
          headers: admin,
          payload: { name: "ops", email: "ops@example.com", role_arn: roleArn },
        });
        assert.equal(made.statusCode, 201, made.body);
        const ops = made.json();
        assert.equal(ops.access, "role");
        assert.equal(ops.role_arn, roleArn);
        assert.match(ops.external_id, /^pc-[\w-]{32}$/, "generated, unguessable (192 bits)");
        const opsAuth = { authorization: `Bearer ${ops.token}` };
        aws(
          "iam",
          "create-role",
          "--role-name",
          roleName,
          "--assume-role-policy-document",
          trustPolicy(ops.external_id),
        );

        // A profile with static keys, for GET /profiles to mark as such.
        await t.profile("legacy", {
          aws: { id: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
        });
        const listed: Json[] = await get(t, admin, "/profiles");
        const kinds = Object.fromEntries(listed.map((p) => [p.name, p.access]));
        assert.deepEqual(kinds, { ops: "role", legacy: "static-keys" });
        // The external id is stable: GET shows the same one.
        assert.equal(listed.find((p) => p.name === "ops").external_id, ops.external_id);

        const before = proxy.log.length;
        const created = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: opsAuth,
          payload: { stack_name: "roled", key_pair: "k", workers: 1, discovery_service: discovery.url },
        });
        assert.equal(created.statusCode, 202, created.body);
        const online = await until(t, opsAuth, "roled", ["online", "failed"]);
        assert.equal(online.status, "online", JSON.stringify(online.reasons));

        const patched = await t.server.app.inject({
          method: "PATCH",
          url: "/clusters/roled",
          headers: opsAuth,
          payload: { workers: 2 },
        });
        assert.equal(patched.statusCode, 202, patched.body);
        const scaled = await eventually(
          async () => {
            const state = await get(t, opsAuth, "/clusters/roled/scale");
            return state.state === "running" ? undefined : state;
          },
          90_000,
          "the scale to end",
        );
        assert.equal(scaled.state, "succeeded", JSON.stringify(scaled));

        const deleted = await t.server.app.inject({
          method: "DELETE",
          url: "/clusters/roled",
          headers: opsAuth,
        });
        assert.equal(deleted.statusCode, 202, deleted.body);
        const gone = await until(t, opsAuth, "roled", ["deleted", "failed"]);
        assert.equal(gone.status, "deleted", JSON.stringify(gone.reasons));

        // On the wire: AssumeRole signed by the server's key, once (the answer is cached for an
        // hour less the margin); every other call of the profile signed by the role's temporary
        // key (moto's assumed-role keys start ASIA, as AWS's do), never the server's.
        const calls = proxy.log.slice(before);
        const assumes = calls.filter((c) => c.operation === "sts:AssumeRole");
        assert.equal(assumes.length, 1, calls.map((c) => c.operation).join(" "));
        assert.equal(assumes[0]?.accessKeyId, serverKey);
        assert.match(assumes[0]?.body ?? "", /ExternalId=pc-/);
        assert.match(assumes[0]?.body ?? "", /RoleSessionName=pandacluster-ops/);
        assert.match(assumes[0]?.body ?? "", /DurationSeconds=3600/);
        const others = calls.filter((c) => c.operation !== "sts:AssumeRole");
        const operations = new Set(others.map((c) => c.operation));
        for (const needed of [
          "cloudformation:CreateStack",
          "cloudformation:UpdateStack",
          "cloudformation:DeleteStack",
        ])
          assert.ok(operations.has(needed), `${needed} among ${[...operations].join(", ")}`);
        const signers = new Set(others.map((c) => c.accessKeyId));
        assert.equal(signers.size, 1, `one temporary key signs all: ${[...signers].join(", ")}`);
        const [temporary] = signers;
        assert.match(String(temporary), /^ASIA/);
        assert.ok(!signers.has(serverKey));

        // Metrics after the create: parsed by an exposition-format parser.
        const scrape = await t.server.app.inject({ method: "GET", url: "/metrics", headers: admin });
        assert.equal(scrape.statusCode, 200);
        const families: Json[] = parsePrometheus(scrape.body);
        const family = (name: string) => families.find((f) => f.name === name);
        const sample = (name: string, labels: Record<string, string>) =>
          family(name)?.metrics.find((m: Json) =>
            Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
          );
        assert.equal(
          sample("pandacluster_aws_requests_total", {
            service: "cloudformation",
            operation: "CreateStack",
            outcome: "success",
          })?.value,
          "1",
        );
        assert.equal(
          sample("pandacluster_aws_requests_total", {
            service: "sts",
            operation: "AssumeRole",
            outcome: "success",
          })?.value,
          "1",
        );
        assert.equal(sample("pandacluster_clusters", { status: "deleted" })?.value, "1");
        assert.equal(sample("pandacluster_jobs", { kind: "create", state: "done" })?.value, "1");
        assert.equal(sample("pandacluster_jobs", { kind: "scale", state: "succeeded" })?.value, "1");

        // A profile naming the same role with another external id (a confused deputy): its job
        // fails with AWS's reason, no stack is attempted, and no credential is shown.
        const mallory = await t.server.app.inject({
          method: "POST",
          url: "/profiles",
          headers: admin,
          payload: { name: "mallory", email: "m@example.com", role_arn: roleArn },
        });
        assert.equal(mallory.statusCode, 201, mallory.body);
        assert.notEqual(mallory.json().external_id, ops.external_id);
        const malloryAuth = { authorization: `Bearer ${mallory.json().token}` };
        const mark = proxy.log.length;
        const refused = await t.server.app.inject({
          method: "POST",
          url: "/clusters",
          headers: malloryAuth,
          payload: { stack_name: "stolen", key_pair: "k", discovery_service: discovery.url },
        });
        assert.equal(refused.statusCode, 202, refused.body);
        const failed = await until(t, malloryAuth, "stolen", ["failed", "online"]);
        assert.equal(failed.status, "failed");
        const reasons = failed.reasons.join("\n");
        assert.ok(reasons.includes(`assuming the IAM role ${roleArn}`), reasons);
        assert.match(reasons, /AccessDenied|not authorized to perform: sts:AssumeRole/);
        const tried = proxy.log.slice(mark).map((c) => c.operation);
        assert.ok(!tried.includes("cloudformation:CreateStack"), tried.join(" "));
        assert.ok(tried.includes("sts:AssumeRole"));
        for (const text of [reasons, JSON.stringify(await get(t, admin, "/profiles")), t.log.text]) {
          assert.ok(!text.includes(String(temporary)), "the temporary key id is never shown");
          assert.doesNotMatch(text, /SessionToken|secretAccessKey|wJalrXUtnFEMI/);
        }
      } finally {
        await t.close();
      }
    });
});
