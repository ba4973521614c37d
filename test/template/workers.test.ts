/**
 * The workers' boot config, in both formats (--provisioning ignition, the default, and
 * cloud-config): the user's units and keys, no etcd member, and ETCDCTL_ENDPOINTS=etcd.<zone>
 * written into /etc/environment by pandacluster-etcd-endpoints.service, with the zone from the
 * template's PrivateDomain parameter (build-template) or written in (create knows it). Every
 * Ignition config passes /usr/bin/ignition-validate.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTemplate } from "../../src/template/build.js";
import type { CfnTemplate } from "../../src/template/types.js";
import { decodeUserData, validateAll } from "../helpers/boot.js";
import { DISCOVERY, evaluate, KEYS } from "./support.js";

function workerBytes(template: CfnTemplate, params: Record<string, string>): Buffer {
  const data = template.Resources.WorkerLaunchTemplate?.Properties?.LaunchTemplateData as Record<
    string,
    unknown
  >;
  const base64 = evaluate(data.UserData, { "AWS::Region": "us-east-1", "AWS::StackName": "demo", ...params });
  return Buffer.from(String(base64), "base64");
}

const ordinary = (count: number, pad = 0) => ({
  units: Array.from({ length: count }, (_, i) => ({
    name: `app-${i}.service`,
    command: "start",
    content_text: `[Unit]\nDescription=app ${i}${"x".repeat(pad)}\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n`,
  })),
  source: "inline",
});

const line = /echo ETCDCTL_ENDPOINTS=http:\/\/etcd\.ww\.cluster:2379 >> \/etc\/environment/;

describe("the workers' boot config", () => {
  for (const provisioning of ["ignition", "cloud-config"] as const) {
    it(`${provisioning}: the user's units and keys, no etcd member, etcd.<PrivateDomain> as endpoint`, async () => {
      const built = await buildTemplate(
        { channel: "stable", arch: "amd64", offline: true, provisioning },
        { public_keys: KEYS },
      );
      const decoded = decodeUserData(
        workerBytes(built.template, { DiscoveryURL: DISCOVERY, PrivateDomain: "ww.cluster" }),
      );
      assert.equal(decoded.format, provisioning);
      if (decoded.format === "cloud-config") {
        const names = decoded.config.coreos.units.map((u) => u.name);
        assert.ok(!names.includes("etcd-member.service"), names.join(","));
        assert.ok(names.includes("var-lib-docker.mount"));
        assert.deepEqual(decoded.config.ssh_authorized_keys, KEYS);
        const unit = decoded.config.coreos.units.find(
          (u) => u.name === "pandacluster-etcd-endpoints.service",
        );
        assert.match(unit?.content ?? "", line);
        assert.doesNotMatch(decoded.text, new RegExp(DISCOVERY));
      } else {
        const units = decoded.effective.systemd?.units ?? [];
        assert.ok(!units.some((u) => u.name === "etcd-member.service"));
        assert.ok(units.some((u) => u.name === "var-lib-docker.mount"));
        const unit = units.find((u) => u.name === "pandacluster-etcd-endpoints.service");
        assert.equal(unit?.enabled, true);
        assert.match(unit?.contents ?? "", line);
        for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
      }
    });
  }

  it("ignition, 200 units (compressed): the endpoints unit stays in the outer config with the zone parameter", async () => {
    const built = await buildTemplate(
      { channel: "stable", arch: "amd64", offline: true, provisioning: "ignition", units: ordinary(200) },
      {},
    );
    const decoded = decodeUserData(
      workerBytes(built.template, { DiscoveryURL: DISCOVERY, PrivateDomain: "ww.cluster" }),
    );
    assert.equal(decoded.format, "ignition");
    if (decoded.format !== "ignition") return;
    assert.ok(decoded.bytes <= 16_384, String(decoded.bytes));
    const units = decoded.effective.systemd?.units ?? [];
    assert.equal(units.filter((u) => u.name.startsWith("app-")).length, 200);
    assert.match(units.find((u) => u.name === "pandacluster-etcd-endpoints.service")?.contents ?? "", line);
    for (const result of await validateAll(decoded)) assert.ok(result.ok, result.messages.join("\n"));
  });

  it("cloud-config, 80 units (compressed): create writes the zone in; build-template refuses, saying why", async () => {
    const options = {
      channel: "stable",
      arch: "amd64",
      offline: true,
      provisioning: "cloud-config",
      units: ordinary(80, 150),
    } as const;
    const built = await buildTemplate(
      options,
      {},
      { private_domain: "ww.cluster" },
      {
        sampleUrl: DISCOVERY,
        knownUrl: DISCOVERY,
      },
    );
    const decoded = decodeUserData(workerBytes(built.template, {}));
    assert.equal(decoded.format, "cloud-config");
    assert.ok(decoded.gzipped);
    assert.match(decoded.text, line);
    await assert.rejects(buildTemplate(options, {}), { name: "UsageError" });
  });
});
