/**
 * Boot configs Ignition (or a YAML 1.1 reader) would refuse are stopped at build time (issue 14,
 * Medium): a lone CR in a unit, a unit named like the tool's own, names over Linux's NAME_MAX, and a
 * cloud-config holding U+2028 and the like. ignition-validate (Debian's) shows what Ignition refuses;
 * PyYAML (a YAML 1.1 reader, like coreos-cloudinit's go-yaml) reads the cloud-config back.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { buildTemplate } from "../../src/template/build.js";
import { decodeUserData, ignitionValidate } from "../helpers/boot.js";
import { DISCOVERY, evaluate } from "./support.js";

const inline = (units: Record<string, unknown>[]) => ({ units, source: "inline" });
const build = (provisioning: "ignition" | "cloud-config", units: Record<string, unknown>[]) =>
  buildTemplate({ channel: "stable", arch: "amd64", offline: true, provisioning, units: inline(units) }, {});

function userData(template: Awaited<ReturnType<typeof buildTemplate>>["template"], id: string): Buffer {
  const data = template.Resources[id]?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = evaluate(data.UserData, {
    "AWS::Region": "us-east-1",
    "AWS::StackName": "demo",
    DiscoveryURL: DISCOVERY,
    PrivateDomain: "d.cluster",
  });
  return Buffer.from(String(base64), "base64");
}

describe("boot configs that would be refused on the node", () => {
  it("a unit with lone CR line endings: Ignition refuses it (ignition-validate), so does build", async () => {
    const contents = "[Unit]\rDescription=x\r\r[Service]\rExecStart=/bin/true\r";
    const validated = await ignitionValidate({
      ignition: { version: "3.3.0" },
      systemd: { units: [{ name: "cr.service", contents }] },
    });
    assert.equal(validated.ok, false, "ignition-validate refuses it");
    await assert.rejects(
      build("ignition", [{ name: "cr.service", content_text: contents }]),
      (error: Error) => {
        assert.equal(error.name, "UsageError");
        assert.match(
          error.message,
          /unit cr\.service: its content, line 1 holds a carriage return \(\\r\) not followed by a line feed/,
        );
        return true;
      },
    );
    // CRLF is a line break to both.
    await build("ignition", [{ name: "crlf.service", content_text: "[Unit]\r\nDescription=x\r\n" }]);
  });

  for (const provisioning of ["ignition", "cloud-config"] as const) {
    it(`${provisioning}: a unit named like the tool's own, or over 255 bytes, is refused`, async () => {
      for (const [name, message] of [
        ["pandacluster-etcd-endpoints.service", /"pandacluster-etcd-endpoints\.service" is reserved/],
        ["pandacluster-anything.timer", /"pandacluster-anything\.timer" is reserved/],
        [
          `${"a".repeat(248)}.service`,
          /its name is 256 bytes long; a unit's file name holds at most 255 \(Linux NAME_MAX\)/,
        ],
      ] as const) {
        await assert.rejects(
          build(provisioning, [{ name, content_text: "[Unit]\nDescription=x\n" }]),
          (error: Error) => {
            assert.equal(error.name, "UsageError");
            assert.match(error.message, message);
            return true;
          },
        );
      }
      await assert.rejects(
        build(provisioning, [
          {
            name: "a.service",
            content_text: "[Unit]\n",
            drop_ins: [{ name: "10-pandacluster-metadata.conf", content_text: "[Unit]\n" }],
          },
        ]),
        /"10-pandacluster-metadata\.conf" is reserved/,
      );
      // 255 bytes is a name Linux takes.
      await build(provisioning, [
        { name: `${"a".repeat(247)}.service`, content_text: "[Unit]\nDescription=x\n" },
      ]);
    });
  }

  it("cloud-config: U+2028, U+2029, NEL, a BOM, CR and control characters reach a YAML 1.1 reader unchanged", async () => {
    const content =
      '[Unit]\nDescription=line\u2028sep\u2029par\u0085nel \ufeffbom\x01ctl\x7fdel "q" \\b\n[Service]\nExecStart=/bin/echo é 😀\r\n';
    const built = await build("cloud-config", [{ name: "odd.service", content_text: content }]);
    for (const id of ["LaunchTemplate", "WorkerLaunchTemplate"]) {
      const decoded = decodeUserData(userData(built.template, id));
      assert.equal(decoded.format, "cloud-config");
      // PyYAML: YAML 1.1, as coreos-cloudinit's reader.
      const json = execFileSync(
        "/usr/bin/python3",
        ["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"],
        { input: decoded.text },
      ).toString();
      const read = JSON.parse(json) as { coreos: { units: { name: string; content?: string }[] } };
      assert.equal(read.coreos.units.find((u) => u.name === "odd.service")?.content, content, id);
    }
  });
});
