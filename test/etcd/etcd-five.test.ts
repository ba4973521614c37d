/**
 * Real etcd, driven by the generated boot config: a cluster of 5 static controllers (2+2+1 over three
 * zones) bootstraps from the stack in moto, as the cluster of 3 does in etcd-bootstrap.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DOMAIN } from "../helpers/etcd-aws-side.js";
import { EtcdHarness } from "../helpers/etcd-harness.js";

describe("five static controllers booted from the generated config", () => {
  let harness: EtcdHarness;
  before(async () => {
    harness = new EtcdHarness({ size: 5 });
    await harness.setUp();
  });
  after(async () => {
    await harness?.close();
  });

  it("bootstrap of 5: members etcd-1..5, spread 2+2+1 over the zones", async () => {
    await harness.bootAll();
    const members = await harness.waitHealthy(5, 90_000);
    assert.deepEqual(
      members.map((m) => [m.name, m.peerURLs[0]]).sort(),
      [1, 2, 3, 4, 5].map((i) => [`etcd-${i}`, `http://etcd-${i}.${DOMAIN}:2380`]),
    );
    const zones = harness.nodes.map((n) => n.facts.availabilityZone);
    const counts = [...new Set(zones)].map((z) => zones.filter((x) => x === z).length).sort();
    assert.deepEqual(counts, [1, 2, 2]);
  });
});
