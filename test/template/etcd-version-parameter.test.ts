/**
 * The controllers' etcd version as the template parameter EtcdVersion (issue 17, upgrade
 * --etcd-version): its default is the build's version; it reaches the controllers' user data by Ref
 * in every form the config takes where a parameter can go (plain Ignition, Ignition merging a gzip
 * rest: the drop-in stays in the small outer config, plain cloud-config), and their instances as the
 * tag pandacluster:etcd-version; the user data is measured with the longest value the parameter
 * accepts. Where the config cannot take it (a cloud-config gzipped whole, the units file's own
 * 20-pandacluster.conf) the version is written in and the template has no EtcdVersion, so that
 * upgrade refuses rather than change a parameter nothing reads. Checked with ignition-validate and
 * cfn-lint.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import type { UnitsInput } from "../../src/options.js";
import { buildTemplate } from "../../src/template/build.js";
import { measureUserData } from "../../src/template/measure.js";
import { longestEtcdVersion } from "../../src/template/parameters.js";
import type { CfnTemplate } from "../../src/template/types.js";
import { decodeUserData, validateAll } from "../helpers/boot.js";
import { evaluate, KEYS } from "./support.js";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "pc-etcd-version-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Props = Record<string, unknown>;
const data = (t: CfnTemplate) => t.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Props;

/** Units that make the controllers' config too big to send plain (it compresses well). */
function manyUnits(count: number): UnitsInput {
  return {
    units: Array.from({ length: count }, (_, i) => ({
      name: `app-${i}.service`,
      command: "start" as const,
      content_text: `[Unit]\nDescription=ordinary unit number ${i} of the cluster\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n`,
    })),
    source: "inline",
  };
}

async function build(options: Record<string, unknown> = {}, zone?: string) {
  return buildTemplate(
    { channel: "stable", arch: "amd64", offline: true, ...options } as Parameters<typeof buildTemplate>[0],
    { public_keys: KEYS },
    // create knows the cluster's zone (a gzipped cloud-config for the workers needs it).
    zone ? { private_domain: zone } : undefined,
  );
}

function sent(t: CfnTemplate, version: string): ReturnType<typeof decodeUserData> {
  const base64 = evaluate(data(t).UserData, { "AWS::Region": "us-east-1", EtcdVersion: version });
  return decodeUserData(Buffer.from(String(base64), "base64"));
}

async function cfnLint(template: CfnTemplate): Promise<string[]> {
  const path = join(scratch, `t-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(template));
  try {
    await run("cfn-lint", [path]);
    return [];
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? error);
    // W2506: ImageId's String type with a map (issue 16's choice), as in etcd-template.test.ts.
    return out
      .split("\n\n")
      .map((s) => s.trim())
      .filter((s) => s && !s.startsWith("W2506"));
  }
}

describe("EtcdVersion, the controllers' etcd as a stack parameter", () => {
  it("defaults to the build's version; the instances carry it as a tag; the workers' launch template never refers to it", async () => {
    const built = await build({ etcd_version: "3.5.26" });
    assert.equal(built.template.Parameters.EtcdVersion?.Default, "3.5.26");
    const tags = (data(built.template).TagSpecifications as { ResourceType: string; Tags: unknown[] }[]).find(
      (s) => s.ResourceType === "instance",
    )?.Tags;
    assert.deepEqual(tags?.at(-1), { Key: "pandacluster:etcd-version", Value: { Ref: "EtcdVersion" } });
    const workers = built.template.Resources.WorkerLaunchTemplate?.Properties?.LaunchTemplateData;
    assert.ok(!JSON.stringify(workers).includes("EtcdVersion"));
    assert.match(sent(built.template, "3.5.26").text, /ETCD_IMAGE_TAG=v3\.5\.26/);
  });

  it("Ignition merging a gzip rest: the drop-in with the parameter stays in the outer config; valid; measured with the longest value", async () => {
    const built = await build({ units: manyUnits(200) });
    assert.equal(built.user_data.encoding, "gzip-merge");
    assert.ok(built.template.Parameters.EtcdVersion, "the template has EtcdVersion");
    const decoded = sent(built.template, "3.6.4");
    assert.ok(decoded.format === "ignition");
    const outer = decoded.configs[0]?.systemd?.units.find((u) => u.name === "etcd-member.service");
    assert.match(outer?.dropins?.[0]?.contents ?? "", /^Environment="ETCD_IMAGE_TAG=v3\.6\.4"$/m);
    const effective = decoded.effective.systemd?.units.find((u) => u.name === "etcd-member.service");
    assert.equal(effective?.dropins?.length, 1, "one drop-in after the merge");
    assert.match(effective?.dropins?.[0]?.contents ?? "", /EnvironmentFile=\/etc\/pandacluster\/etcd\.env/);
    for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
    // What EC2 gets with the longest EtcdVersion an upgrade may set is what was checked.
    const longest = longestEtcdVersion();
    assert.equal(longest.length, 20);
    const measured = measureUserData(built.template, { EtcdVersion: longest });
    const controllers = measured.find((m) => m.launch_template === "LaunchTemplate");
    assert.equal(controllers?.bytes, sent(built.template, longest).bytes);
    assert.deepEqual(
      built.launch_templates.find((m) => m.launch_template === "LaunchTemplate")?.bytes,
      controllers?.bytes,
      "build-template reports the bytes with the longest EtcdVersion",
    );
    assert.deepEqual(await cfnLint(built.template), []);
  });

  it("the default config's bytes: within EC2's limit with the longest EtcdVersion, and the report gives the default's", async () => {
    const built = await build();
    assert.equal(built.user_data.encoding, "plain");
    const longest = sent(built.template, longestEtcdVersion()).bytes;
    const byDefault = sent(built.template, "3.5.27").bytes;
    assert.equal(longest - byDefault, longestEtcdVersion().length - "3.5.27".length);
    assert.ok(longest <= 16_384, `${longest} bytes`);
    assert.equal(built.user_data.bytes, byDefault);
    assert.deepEqual(await cfnLint(built.template), []);
  });

  it("a cloud-config gzipped whole cannot take a parameter: the version is written in and there is no EtcdVersion", async () => {
    const built = await build(
      { provisioning: "cloud-config", units: manyUnits(200), etcd_version: "3.5.26" },
      "demo.cluster",
    );
    assert.equal(built.user_data.encoding, "gzip");
    assert.equal(built.template.Parameters.EtcdVersion, undefined);
    assert.ok(!JSON.stringify(built.template).includes("EtcdVersion"), "no reference, no tag");
    const decoded = decodeUserData(Buffer.from(data(built.template).UserData as string, "base64"));
    assert.ok(decoded.gzipped);
    assert.match(decoded.text, /ETCD_IMAGE_TAG=v3\.5\.26/);
    assert.doesNotMatch(decoded.text, /pandacluster-etcd-version-marker/);
    assert.deepEqual(await cfnLint(built.template), []);
  });

  it("a plain cloud-config takes it in the drop-in's literal block", async () => {
    const built = await build({ provisioning: "cloud-config" });
    assert.equal(built.user_data.encoding, "plain");
    const decoded = sent(built.template, "3.6.4");
    assert.ok(decoded.format === "cloud-config");
    const etcd = decoded.config.coreos.units.find((u) => u.name === "etcd-member.service");
    assert.match(etcd?.drop_ins?.[0]?.content ?? "", /^Environment="ETCD_IMAGE_TAG=v3\.6\.4"$/m);
  });

  it("a units file's own 20-pandacluster.conf replaces ours: the template has no EtcdVersion", async () => {
    const units: UnitsInput = {
      units: [
        {
          name: "etcd-member.service",
          drop_ins: [
            {
              name: "20-pandacluster.conf",
              content_text: "[Service]\nEnvironment=ETCD_IMAGE_TAG=v3.5.26\n",
            },
          ],
        },
      ],
      source: "inline",
    };
    const built = await build({ units });
    assert.equal(built.template.Parameters.EtcdVersion, undefined);
    assert.ok(!JSON.stringify(built.template).includes("EtcdVersion"));
  });
});
