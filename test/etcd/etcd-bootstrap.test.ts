/**
 * Real etcd, driven by the generated boot config (issue 15's proof): the controllers of the
 * template build_template generates, its stack created in moto, each slot's instance booted on
 * loopback by the harness (test/helpers/etcd-harness.ts) from its launch template's Ignition config.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DOMAIN } from "../helpers/etcd-aws-side.js";
import { EtcdHarness } from "../helpers/etcd-harness.js";

describe("static controllers booted from the generated config form, keep and heal an etcd cluster", () => {
  let harness: EtcdHarness;
  before(async () => {
    harness = new EtcdHarness({ size: 3 });
    await harness.setUp();
  });
  after(async () => {
    await harness?.close();
  });

  it("bootstrap of 3: members etcd-1..3 at their slot names, each published in Route 53", async () => {
    await harness.bootAll();
    const members = await harness.waitHealthy(3);
    assert.deepEqual(
      members.map((m) => [m.name, m.peerURLs[0]]).sort(),
      [1, 2, 3].map((i) => [`etcd-${i}`, `http://etcd-${i}.${DOMAIN}:2380`]),
    );
  });
});
