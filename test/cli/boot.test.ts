/**
 * The nodes' boot config end to end through bin/pandacluster: build-template's closing line and
 * errors, and `create` against the moto emulator and a real etcd discovery service, with the launch
 * template read back (DescribeLaunchTemplateVersions, through the AWS CLI) and what was really sent
 * decoded as EC2 and Flatcar would, every Ignition config checked by ignition-validate.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ClusterResult } from "../../src/lifecycle/types.js";
import {
  allText,
  type Decoded,
  decodeUserData,
  nodeKeys,
  nodeUnits,
  userDataBytes,
  validateAll,
} from "../helpers/boot.js";
import { runCli } from "../helpers/cli.js";
import { assertNothingCreated as nothingCreated } from "../helpers/harness.js";
import { PUBLIC_KEY, worldPerFile } from "../lifecycle/e2e.js";
import { ordinaryUnitsFile } from "../template/boot-units.js";

const world = worldPerFile();
const repo = (...parts: string[]) => new URL(`../../../${parts.join("/")}`, import.meta.url).pathname;
const fixture = (...parts: string[]) => repo("test", "fixtures", ...parts);

async function assertValid(decoded: Decoded) {
  for (const result of await validateAll(decoded)) {
    assert.ok(result.ok, result.messages.join("\n"));
    assert.deepEqual(result.warnings, []);
  }
}

/** The user data of the only stack's controllers' launch template, as the AWS CLI reads it back. */
async function sentUserData(): Promise<Decoded> {
  // The controllers' launch template (the workers have their own: test/template/workers.test.ts).
  const stacks = await world.aws<{ Stacks: { StackName: string }[] }>(["cloudformation", "describe-stacks"]);
  assert.equal(stacks.Stacks.length, 1);
  const resources = await world.aws<{
    StackResources: { LogicalResourceId: string; PhysicalResourceId: string }[];
  }>(["cloudformation", "describe-stack-resources", "--stack-name", stacks.Stacks[0]?.StackName as string]);
  const id = resources.StackResources.find(
    (r) => r.LogicalResourceId === "LaunchTemplate",
  )?.PhysicalResourceId;
  const templates = { LaunchTemplates: [{ LaunchTemplateId: id as string }] };
  const versions = await world.aws<{
    LaunchTemplateVersions: { LaunchTemplateData: { UserData: string } }[];
  }>([
    "ec2",
    "describe-launch-template-versions",
    "--launch-template-id",
    templates.LaunchTemplates[0]?.LaunchTemplateId as string,
    "--versions",
    "$Latest",
  ]);
  return decodeUserData(userDataBytes(versions.LaunchTemplateVersions[0]?.LaunchTemplateData.UserData ?? ""));
}

/** 3,000 random bytes, base64, as comment lines: gzip cannot shrink them, Ignition's parser takes them. */
function commentedNoise(): string {
  const lines =
    randomBytes(3_000)
      .toString("base64")
      .match(/.{1,76}/g) ?? [];
  return lines.map((line) => `# ${line}`).join("\n");
}

/** Nothing in AWS (the harness's one check: no stack, hosted zone, instance or launch template). */
const assertNothingCreated = () => nothingCreated(world.aws);

describe("build-template", () => {
  it("the closing line names the file's bytes, the TemplateBody bytes and the user data bytes, each checkable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-boot-"));
    const path = join(dir, "t.json");
    const run = await runCli(["build-template", "--offline", "-p", path]);
    assert.equal(run.code, 0, run.stderr);
    const last = run.stderr.trimEnd().split("\n").at(-1) ?? "";
    const n = (value: number) => value.toLocaleString("en-US");
    const file = statSync(path).size;
    const template = JSON.parse(readFileSync(path, "utf8"));
    const body = Buffer.byteLength(JSON.stringify(template));
    assert.ok(
      last.startsWith(
        `wrote ${path} (${n(file)} bytes in the file; TemplateBody ${n(body)} of 51,200 bytes; `,
      ),
      last,
    );
    assert.match(last, /; ignition user data [\d,]+ of 16,384 bytes, with a 58-character discovery URL; /);
  });

  for (const provisioning of ["ignition", "cloud-config"]) {
    it(`takes the seed's own units file (${provisioning}); runtime is noted once under Ignition`, async () => {
      const run = await runCli([
        "build-template",
        "--offline",
        "--provisioning",
        provisioning,
        "-u",
        fixture("seed", "units", "unit-config.cson"),
        "-p",
        "-",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const notes = run.stderr.split("\n").filter((line) => line.startsWith("runtime has no meaning"));
      assert.equal(notes.length, provisioning === "ignition" ? 1 : 0, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `wrote the template to standard output \\(TemplateBody [\\d,]+ of 51,200 bytes; ${provisioning} user data`,
        ),
      );
    });
  }

  it("a bad units file: the errors and one line pointing at the help, nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pandacluster-boot-"));
    const path = join(dir, "units.cson");
    writeFileSync(
      path,
      '[{name: "a.service", enable: "maybe"}, {name: "b.socket", content_text: "[Socket]\\nListenStream=$private_ipv4:1\\n"}]',
    );
    const run = await runCli(["build-template", "--offline", "-u", path, "-p", join(dir, "t.json")]);
    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      `error: ${path}: units[0] (a.service): enable must be true or false (or one of the strings "true", "yes", "on", "false", "no", "off")\nsee \`pandacluster build-template --help\`\n`,
    );
    writeFileSync(path, '[{name: "b.socket", content_text: "[Socket]\\nListenStream=$private_ipv4:1\\n"}]');
    const again = await runCli(["build-template", "--offline", "-u", path, "-p", join(dir, "t.json")]);
    assert.equal(again.code, 2);
    const lines = again.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, again.stderr);
    assert.match(
      lines[0] ?? "",
      /^error: unit b\.socket: its content uses \$private_ipv4 on line 2 \(ListenStream=\)/,
    );
  });

  it("a cloud-config over 16,384 bytes: exit 2 with the size, the limit and the way out", async () => {
    const run = await runCli([
      "build-template",
      "--offline",
      "--provisioning",
      "cloud-config",
      "-u",
      ordinaryUnitsFile(60),
      "-p",
      "-",
    ]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^error: the cloud-config user data is [\d,]+ bytes \(with a 58-character discovery URL\); EC2 accepts at most 16,384 bytes/,
    );
  });
});

describe("create: what the launch template really holds", () => {
  it("Ignition (the default): units byte for byte, keys, the etcd drop-in with the cluster's discovery URL, all valid", async () => {
    const units = fixture("template", "units", "ignition-nasty.cson");
    const created = await world.cliJson<ClusterResult>(["create", "-n", "ign", "-k", "k1", "-u", units]);
    assert.equal(created.run.code, 0, created.run.stderr);
    const url = created.json.cluster.discovery_url as string;
    assert.match(url, /\/[0-9a-f]{32}$/);
    const decoded = await sentUserData();
    assert.equal(decoded.format, "ignition");
    await assertValid(decoded);
    assert.doesNotMatch(allText(decoded), /\$(private|public)_ipv4/);
    assert.deepEqual(nodeKeys(decoded), [PUBLIC_KEY]);
    const sent = nodeUnits(decoded);
    const read = (name: string) => readFileSync(fixture("template", "units", name), "utf8");
    assert.equal(
      sent.get("nasty.service")?.content,
      read("ignition-nasty.service")
        .replaceAll("$private_ipv4", `\${COREOS_EC2_IPV4_LOCAL}`)
        .replaceAll("$public_ipv4", `\${COREOS_EC2_IPV4_PUBLIC}`),
    );
    assert.equal(sent.get("nasty.service")?.dropIns.get("10-from-file.conf"), read("drop-in.conf"));
    assert.equal(sent.get("crlf.service")?.content, read("crlf.service"));
    const etcd = sent.get("etcd-member.service")?.dropIns.get("20-cluster.conf") ?? "";
    assert.ok(etcd.includes(`Environment="ETCD_DISCOVERY=${url}"\n`), etcd);
    assert.match(etcd, /^\[Unit\]\nRequires=coreos-metadata\.service\nAfter=coreos-metadata\.service\n/);
    assert.equal(await world.discoverySize(url), 3);
  });

  it("cloud-config with 60 units: gzipped with the cluster's URL once the service gave it, ≤ 16,384 bytes", async () => {
    const path = ordinaryUnitsFile(60);
    const created = await world.cliJson<ClusterResult>([
      "create",
      "-n",
      "cc60",
      "-k",
      "k1",
      "--provisioning",
      "cloud-config",
      "-u",
      path,
    ]);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.match(
      created.run.stderr,
      /template rebuilt with the discovery URL \(built, [\d,]+ bytes of TemplateBody; cloud-config user data [\d,]+ of 16,384 bytes, gzipped\)/,
    );
    const decoded = await sentUserData();
    assert.equal(decoded.format, "cloud-config");
    assert.ok(decoded.gzipped);
    const launch = created.json.details.launch as {
      resolved: { template: { user_data: Record<string, unknown> } };
    };
    assert.equal(launch.resolved.template.user_data.encoding, "gzip");
    assert.equal(
      launch.resolved.template.user_data.bytes,
      decoded.bytes,
      "the size reported is the size sent",
    );
    assert.ok(decoded.bytes <= 16_384, String(decoded.bytes));
    const sent = nodeUnits(decoded);
    for (const entry of JSON.parse(readFileSync(path, "utf8")) as { name: string; content_text: string }[]) {
      assert.equal(sent.get(entry.name)?.content, entry.content_text, entry.name);
    }
    assert.deepEqual(nodeKeys(decoded), [PUBLIC_KEY]);
    const url = created.json.cluster.discovery_url as string;
    assert.ok(
      sent.get("etcd-member.service")?.dropIns.get("20-cluster.conf")?.includes(`ETCD_DISCOVERY=${url}"`),
    );
  });

  it("Ignition with 200 units: a gzip-merged config ≤ 16,384 bytes, both configs valid, every unit there", async () => {
    const path = ordinaryUnitsFile(200);
    const created = await world.cliJson<ClusterResult>(["create", "-n", "ign200", "-k", "k1", "-u", path]);
    assert.equal(created.run.code, 0, created.run.stderr);
    const decoded = await sentUserData();
    assert.ok(decoded.format === "ignition" && decoded.configs.length === 2);
    assert.ok(decoded.bytes <= 16_384, String(decoded.bytes));
    await assertValid(decoded);
    const sent = nodeUnits(decoded);
    for (const entry of JSON.parse(readFileSync(path, "utf8")) as { name: string; content_text: string }[]) {
      assert.equal(sent.get(entry.name)?.content, entry.content_text, entry.name);
    }
  });

  for (const provisioning of ["ignition", "cloud-config"]) {
    it(`${provisioning}: user data gzip cannot fit is exit 2 before any AWS call or discovery URL; nothing created`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "pandacluster-boot-"));
      const path = join(dir, "noise.cson");
      const units = Array.from({ length: 8 }, (_, i) => ({
        name: `n${i}.service`,
        content_text: `[Unit]\n${commentedNoise()}\n`,
      }));
      writeFileSync(path, JSON.stringify(units));
      const registered = await world.registered();
      const run = await world.cli([
        "create",
        "-n",
        "noise",
        "-k",
        "k1",
        "--provisioning",
        provisioning,
        "-u",
        path,
      ]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /user data is [\d,]+ bytes \(with a [\d]+-character discovery URL\), [\d,]+ bytes gzipped; EC2 accepts at most 16,384 bytes of user data/,
      );
      await assertNothingCreated();
      assert.equal(await world.registered(), registered, "no discovery URL was asked for");
    });
  }
});
