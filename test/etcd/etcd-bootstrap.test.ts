/**
 * Real etcd, driven by the generated boot config (issue 15's proof): controllers of the template
 * build_template generates, booted on loopback by the harness (test/helpers/etcd-harness.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newDiscoveryUrl } from "../../src/discovery.js";
import { EtcdHarness } from "../helpers/etcd-harness.js";
import { type Discovery, startDiscovery } from "../helpers/services.js";

describe("controllers booted from the generated Ignition config form an etcd cluster", () => {
  let discovery: Discovery;
  let harness: EtcdHarness;
  before(async () => {
    discovery = await startDiscovery();
    harness = new EtcdHarness({ size: 3, params: { DiscoveryURL: await newDiscoveryUrl(discovery.url, 3) } });
    await harness.setUp();
  });
  after(async () => {
    await harness?.close();
    await discovery?.stop();
  });

  it("bootstrap of 3", async () => {
    await harness.bootAll();
    const members = await harness.waitHealthy(3);
    assert.deepEqual(
      members.map((m) => m.peerURLs[0]).sort(),
      harness.nodes.map((n) => `http://${n.ip}:2380`).sort(),
    );
  });
});
