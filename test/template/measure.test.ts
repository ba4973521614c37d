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
        sentBytes(built.template, s.launch_template, { DiscoveryURL: DISCOVERY, PrivateDomain: LONGEST }),
      );
    }
  });

  it("a worker user data over the limit only with a long PrivateDomain is refused by build-template, naming the workers' launch template", async () => {
    const base = await buildTemplate(options(0), {}, undefined, { sampleUrl: DISCOVERY });
    const worker0 = base.launch_templates.find((s) => s.launch_template === "WorkerLaunchTemplate")
      ?.bytes as number;
    const controller0 = base.launch_templates.find((s) => s.launch_template === "LaunchTemplate")
      ?.bytes as number;
    const pad = 16_384 - worker0 + 200;
    assert.ok(controller0 + pad <= 16_384, "the controllers fit");
    await assert.rejects(
      buildTemplate(options(pad), {}, undefined, { sampleUrl: DISCOVERY }),
      (error: Error) => {
        assert.equal(error.name, "UsageError");
        assert.match(
          error.message,
          /launch template WorkerLaunchTemplate: 16,\d{3} bytes with a 253-character PrivateDomain \(the longest the template accepts\); EC2 accepts at most 16,384/,
        );
        assert.doesNotMatch(error.message, /launch template LaunchTemplate:/);
        return true;
      },
    );
    // The zone known (create): measured with it, and fits.
    const known = await buildTemplate(
      options(pad),
      {},
      { private_domain: "w.cluster" },
      { sampleUrl: DISCOVERY },
    );
    const workers = known.launch_templates.find((s) => s.launch_template === "WorkerLaunchTemplate");
    assert.equal(
      workers?.bytes,
      sentBytes(known.template, "WorkerLaunchTemplate", { DiscoveryURL: DISCOVERY }),
    );
    assert.ok((workers?.bytes as number) <= 16_384);
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
