/**
 * doc/iam/role-policy.json is the least privilege a profile's role needs, derived from the code:
 * the AWS SDK commands src/ uses (every `const { XCommand } = sdk.<service>()` and every value
 * import from @aws-sdk/client-*), and what CloudFormation does with the role's credentials for the
 * resource types and functions the template builders (src/template/) use, as
 * doc/iam/resource-actions.json lists them. The policy must hold all of them and nothing else: a
 * new SDK command or a new resource type in the template (IAM roles and instance profiles, volumes,
 * a hosted zone) fails this test, naming what to add.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "./helpers/cli.js";

const root = repoRoot;
const read = (path: string) => readFileSync(join(root, path), "utf8");
const json = (path: string) => JSON.parse(read(path));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** The IAM prefix of each SDK client package / sdk.ts loader the code may use. */
const iamPrefix: Record<string, string> = {
  cloudformation: "cloudformation",
  ec2: "ec2",
  autoscaling: "autoscaling",
  "auto-scaling": "autoscaling",
  route53: "route53",
  "route-53": "route53",
  sts: "sts",
  iam: "iam",
  ssm: "ssm",
};

/**
 * Calls the role's policy does not grant: GetCallerIdentity needs no permission (AWS: "No
 * permissions are required to perform this operation"); AssumeRole is made with the server's own
 * credentials (doc/iam/server-policy.json), never with the role's.
 */
const notTheRoles = new Set(["sts:GetCallerIdentity", "sts:AssumeRole"]);

/** Every SDK command the code uses, as IAM actions ("cloudformation:CreateStack"). */
export function codeActions(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (service: string, command: string, file: string) => {
    const prefix = iamPrefix[service];
    assert.ok(prefix, `${file}: the SDK client "${service}" has no IAM prefix in test/iam-policy.test.ts`);
    const action = `${prefix}:${command.replace(/Command$/, "")}`;
    found.set(action, [...(found.get(action) ?? []), file]);
  };
  for (const file of sources("src")) {
    const text = read(file);
    for (const m of text.matchAll(/const\s*\{([^}]*)\}\s*=\s*sdk\.([a-z0-9]+)\(\)/g)) {
      for (const name of (m[1] ?? "").split(",").map((n) => n.trim().split(/\s*:/)[0] ?? "")) {
        if (name.endsWith("Command")) add(m[2] ?? "", name, file);
      }
    }
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/client-([a-z0-9-]+)"/g)) {
      if (/^import\s+type/.test(m[0])) continue;
      for (const raw of (m[1] ?? "").split(",")) {
        const name = raw.trim();
        if (!name.startsWith("type ") && name.endsWith("Command")) add(m[2] ?? "", name, file);
      }
    }
  }
  return found;
}

/** Resource types ("AWS::EC2::VPC"), parameter types that make CloudFormation read SSM, and Fn::GetAZs. */
export function templateUses(): Map<string, string> {
  const used = new Map<string, string>();
  for (const file of sources("src/template")) {
    const text = read(file);
    for (const m of text.matchAll(/"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"/g)) used.set(m[1] ?? "", file);
    if (/"Fn::GetAZs"/.test(text)) used.set("Fn::GetAZs", file);
    if (/AWS::SSM::Parameter::Value</.test(text)) used.set("AWS::SSM::Parameter::Value", file);
  }
  return used;
}

function policyActions(policy: { Statement: { Effect: string; Action: string | string[] }[] }): string[] {
  return policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => [s.Action].flat());
}

describe("doc/iam: the role's least-privilege policy", () => {
  it("holds exactly the actions of the SDK commands the code uses and of the template's resource types", () => {
    const calls = codeActions();
    // The scan sees the commands the library is known to call (a scan that finds nothing proves nothing).
    for (const known of [
      "cloudformation:CreateStack",
      "cloudformation:DeleteStack",
      "ec2:DescribeInstances",
      "route53:ChangeResourceRecordSets",
      "autoscaling:DescribeAutoScalingGroups",
      "sts:AssumeRole",
    ])
      assert.ok(calls.has(known), `${known} is found in src/`);

    const resourceActions: Record<string, string[]> = json("doc/iam/resource-actions.json");
    const uses = templateUses();
    assert.ok(uses.has("AWS::AutoScaling::AutoScalingGroup") && uses.has("AWS::EC2::LaunchTemplate"));
    const unlisted = [...uses.keys()].filter((type) => !resourceActions[type]);
    assert.deepEqual(
      unlisted,
      [],
      `the template uses ${unlisted.join(", ")} (${unlisted.map((t) => uses.get(t)).join(", ")}): list what CloudFormation calls for it in doc/iam/resource-actions.json, then add those actions to doc/iam/role-policy.json`,
    );

    const expected = new Set([
      ...[...calls.keys()].filter((a) => !notTheRoles.has(a)),
      ...[...uses.keys()].flatMap((type) => resourceActions[type] ?? []),
    ]);
    const granted = policyActions(json("doc/iam/role-policy.json"));
    assert.equal(new Set(granted).size, granted.length, "no action is listed twice");
    const missing = [...expected].filter((a) => !granted.includes(a)).sort();
    const extra = granted.filter((a) => !expected.has(a)).sort();
    assert.deepEqual(missing, [], `add to doc/iam/role-policy.json: ${missing.join(", ")}`);
    assert.deepEqual(
      extra,
      [],
      `not used by the code or the template, remove from doc/iam/role-policy.json: ${extra.join(", ")}`,
    );
    assert.ok(
      granted.every((a) => !a.includes("*")),
      "no wildcard actions",
    );
  });

  it("the server's policy allows sts:AssumeRole only; the trust policy requires the external id", () => {
    const server = json("doc/iam/server-policy.json");
    assert.deepEqual(policyActions(server), ["sts:AssumeRole"]);
    assert.ok(codeActions().get("sts:AssumeRole")?.includes("src/aws/role_credentials.ts"));
    const trust = json("doc/iam/trust-policy.json");
    const [statement] = trust.Statement;
    assert.equal(trust.Statement.length, 1);
    assert.equal(statement.Action, "sts:AssumeRole");
    assert.deepEqual(statement.Condition, { StringEquals: { "sts:ExternalId": "EXTERNAL_ID" } });
    const guide = read("doc/iam/README.md");
    for (const file of ["trust-policy.json", "role-policy.json", "server-policy.json"])
      assert.match(guide, new RegExp(file));
  });
});
