/**
 * Every launch template's user data is measured in the whole template with the values it will get
 * (issue 14, Medium): the workers' after their etcd endpoints unit is in, with the longest
 * PrivateDomain the template accepts when the zone is not known (build-template). Checked against
 * the template decoded the way CloudFormation resolves it (support.ts's evaluator).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTemplate } from "../../src/template/build.js";
import { measureUserData } from "../../src/template/measure.js";
import { longestEtcdVersion } from "../../src/template/parameters.js";
import type { CfnTemplate } from "../../src/template/types.js";
import { DISCOVERY, evaluate } from "./support.js";

const LONGEST = Array.from({ length: 4 }, () => "a".repeat(63))
  .join(".")
  .slice(0, 253);

function sentBytes(template: CfnTemplate, id: string, params: Record<string, string>): number {
  const data = template.Resources[id]?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = evaluate(data.UserData, { "AWS::Region": "us-east-1", "AWS::StackName": "demo", ...params });
  return Buffer.from(String(base64), "base64").length;
}

const padded = (pad: number) => ({
  units: [
    {
      name: "app.service",
      command: "start",
      content_text: `[Unit]\nDescription=app ${"x".repeat(pad)}\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n`,
    },
  ],
  source: "inline",
});

const options = (pad: number) =>
  ({
    channel: "stable",
    arch: "amd64",
    offline: true,
    provisioning: "cloud-config",
    units: padded(pad),
    // The discovery mode's controllers (no node script): the measuring, not etcd, is under test.
    etcd_bootstrap: "discovery",
  }) as const;

describe("user data measured as sent, for every launch template", () => {
  it("build-template reports both launch templates, as CloudFormation will resolve them", async () => {
    const built = await buildTemplate(options(0), {}, undefined, { sampleUrl: DISCOVERY });
    assert.deepEqual(
      built.launch_templates.map((s) => s.launch_template),
      ["LaunchTemplate", "WorkerLaunchTemplate"],
    );
    for (const s of built.launch_templates) {
      assert.equal(
        s.bytes,
        sentBytes(built.template, s.launch_template, {
          DiscoveryURL: DISCOVERY,
          PrivateDomain: LONGEST,
          // The longest EtcdVersion the parameter takes: an upgrade may set any.
          EtcdVersion: longestEtcdVersion(),
        }),
      );
    }
  });

  // Since the controllers carry the reboot coordination (and, statically, the node script), their
  // user data is the larger: an overflow of the workers alone cannot happen with shared units. What
  // is checked is that each launch template is judged on its own bytes, and that the workers' are
  // measured with the longest PrivateDomain until the zone is known.
  it("each launch template is judged on its own bytes; the workers' with the longest PrivateDomain until the zone is known", async () => {
    const base = await buildTemplate(options(0), {}, undefined, { sampleUrl: DISCOVERY });
    const bytesOf = (built: typeof base, id: string) =>
      built.launch_templates.find((s) => s.launch_template === id)?.bytes as number;
    const worker0 = bytesOf(base, "WorkerLaunchTemplate");
    const controller0 = bytesOf(base, "LaunchTemplate");
    // Just enough for the controllers to go over: the workers, smaller, still fit.
    const pad = 16_384 - controller0 + 1;
    assert.ok(worker0 + pad <= 16_384, "the workers fit");
    await assert.rejects(
      buildTemplate(options(pad), {}, undefined, { sampleUrl: DISCOVERY }),
      (error: Error) => {
        assert.equal(error.name, "UsageError");
        // The controllers' config, 1 byte over (refused as they are built), not the workers'.
        assert.match(error.message, /user data is 16,385 bytes/);
        assert.doesNotMatch(error.message, /launch template WorkerLaunchTemplate:/);
        return true;
      },
    );
    // The zone known (create): the workers are measured with it, shorter than with 253 characters.
    const known = await buildTemplate(
      options(0),
      {},
      { private_domain: "w.cluster" },
      { sampleUrl: DISCOVERY },
    );
    const workers = bytesOf(known, "WorkerLaunchTemplate");
    assert.equal(workers, sentBytes(known.template, "WorkerLaunchTemplate", { DiscoveryURL: DISCOVERY }));
    assert.ok(workers < worker0, `${workers} bytes with w.cluster, ${worker0} with the longest zone`);
  });

  it("measureUserData resolves Fn::Base64, Fn::Join, Ref, Fn::Sub and plain base64 with the values sent", () => {
    const template = {
      Parameters: { Zone: { Type: "String", Default: "z.example" }, Url: { Type: "String" } },
      Resources: {
        A: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: {
            LaunchTemplateData: {
              UserData: { "Fn::Base64": { "Fn::Join": ["", ["x", { Ref: "Url" }, { Ref: "Zone" }]] } },
            },
          },
        },
        B: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: {
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
            LaunchTemplateData: { UserData: { "Fn::Base64": { "Fn::Sub": "é${Url}${!Literal}" } } },
          },
        },
        C: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: { LaunchTemplateData: { UserData: Buffer.from("hello").toString("base64") } },
        },
        D: {
          Type: "AWS::EC2::LaunchTemplate",
          Properties: { LaunchTemplateData: { UserData: { "Fn::Base64": { "Fn::GetAtt": ["X", "Y"] } } } },
        },
      },
    };
    assert.deepEqual(
      measureUserData(template, { Url: "http://u/1" }).map((s) => [s.launch_template, s.bytes]),
      [
        ["A", 1 + 10 + 9],
        ["B", 2 + 10 + 10],
        ["C", 5],
        ["D", null],
      ],
    );
  });
});
