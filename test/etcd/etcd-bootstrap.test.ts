/**
 * Real etcd, driven by the generated boot config (issue 15's proof): the controllers of the
 * template build_template generates, its stack created in moto, each slot's instance booted on
 * loopback by the harness (test/helpers/etcd-harness.ts) from its launch template's Ignition config,
 * the node script (pandacluster-etcd) doing the slot's work against moto. The scenarios run in order
 * on one cluster of 3; each leaves it whole.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DOMAIN } from "../helpers/etcd-aws-side.js";
import { EtcdHarness, waitFor } from "../helpers/etcd-harness.js";
import type { FlatcarNode } from "../helpers/flatcar/node.js";

/** What the node script says its member is doing or waiting for (/run/pandacluster-etcd/status). */
const status = (node: FlatcarNode) => {
  const path = join(node.root, "run", "pandacluster-etcd", "status");
  return existsSync(path) ? readFileSync(path, "utf8").trim() : "";
};

describe("static controllers booted from the generated config form, keep and heal an etcd cluster", () => {
  let harness: EtcdHarness;
  before(async () => {
    harness = new EtcdHarness({ size: 3 });
    await harness.setUp();
  });
  after(async () => {
    await harness?.close();
  });
  const running = () => harness.nodes.filter((n) => n.isRunning("etcd-member.service"));
  const get = async (key: string, nodes = running()) =>
    (await harness.etcdctl(["get", key, "--print-value-only"], nodes)).trim();
  const memberIds = async () =>
    Object.fromEntries((await harness.members(running())).map((m) => [m.name, m.ID]));

  it("bootstrap of 3: members etcd-1..3 at their slot names, no discovery service", async () => {
    await harness.bootAll();
    const members = await harness.waitHealthy(3);
    assert.deepEqual(
      members.map((m) => [m.name, m.peerURLs[0]]).sort(),
      [1, 2, 3].map((i) => [`etcd-${i}`, `http://etcd-${i}.${DOMAIN}:2380`]),
    );
    for (const node of harness.nodes)
      assert.match(status(node), /^healthy: etcd-\d, one of 3 voting members/);
    await harness.put("/before", "written before any failure");
  });

  it("a member killed and restarted with its data rejoins as itself", async () => {
    const ids = await memberIds();
    const node = harness.nodes[1] as FlatcarNode;
    await node.kill();
    await harness.put("/while-down", "written while etcd-2 was down");
    await node.powerOff(); // what is left of the boot: /run and its mounts
    await node.boot();
    await harness.waitHealthy(3);
    assert.deepEqual(await memberIds(), ids, "the same three members");
    assert.equal(await get("/while-down", [node]), "written while etcd-2 was down");
  });

  it("an instance replaced by AWS comes back as the same member, from its slot's volume", async () => {
    const ids = await memberIds();
    const node = await harness.replace(3);
    await node.boot();
    await harness.waitHealthy(3);
    assert.deepEqual(await memberIds(), ids);
    assert.match(node.log("pandacluster-etcd-prepare.service"), /starting: etcd-3 with its data/);
    assert.equal(await get("/before", [node]), "written before any failure");
  });

  it("a replacement with an empty data volume: stale member removed, learner added and promoted", async () => {
    const before = await memberIds();
    const node = await harness.replace(2);
    const volume = node.facts.tags["pandacluster:volume"] as string;
    // The slot's volume lost its data (a blank volume): the node formats it.
    rmSync(join(harness.aws?.volumes as string, volume), { recursive: true, force: true });
    rmSync(join(harness.aws?.volumes as string, `${volume}.fs`), { force: true });
    await node.boot();
    const members = await harness.waitHealthy(3);
    const after = await memberIds();
    assert.notEqual(after["etcd-2"], before["etcd-2"], "a new member for slot 2");
    assert.equal(after["etcd-1"], before["etcd-1"]);
    assert.equal(after["etcd-3"], before["etcd-3"]);
    assert.ok(
      members.every((m) => !m.isLearner),
      "promoted",
    );
    const prepare = node.log("pandacluster-etcd-prepare.service");
    assert.match(prepare, new RegExp(`removed the stale member ${before["etcd-2"]}`, "i"));
    assert.match(prepare, /joins as a new learner/);
    assert.match(node.log("pandacluster-etcd-ready.service"), /promoted from learner to voting member/);
    assert.equal(await get("/before", [node]), "written before any failure");
    assert.equal(await get("/while-down", [node]), "written while etcd-2 was down");
  });

  it("a replacement with an empty volume while another member is down waits, says why, and removes nothing", async () => {
    const before = await memberIds();
    const down = harness.nodes[0] as FlatcarNode;
    await down.kill();
    const node = await harness.replace(3);
    const volume = node.facts.tags["pandacluster:volume"] as string;
    rmSync(join(harness.aws?.volumes as string, volume), { recursive: true, force: true });
    rmSync(join(harness.aws?.volumes as string, `${volume}.fs`), { force: true });
    const booting = node.boot();
    const said = await waitFor("the replacement to say it waits for quorum", 60_000, () =>
      /^waiting: etcd-3 lost its data; only [01] other members of 3 are healthy, 2 are needed/.test(
        status(node),
      )
        ? status(node)
        : undefined,
    );
    assert.match(said, /no member is removed without quorum/);
    // etcd-1 comes back (with its data); only then is etcd-3's stale member replaced.
    const survivor = harness.nodes[1] as FlatcarNode;
    assert.deepEqual(
      (await harness.members([survivor])).map((m) => m.ID).sort(),
      Object.values(before).sort(),
      "nothing removed while quorum was lost",
    );
    await down.powerOff();
    await down.boot();
    await booting;
    await harness.waitHealthy(3);
    const after = await memberIds();
    assert.notEqual(after["etcd-3"], before["etcd-3"]);
    assert.equal(after["etcd-1"], before["etcd-1"]);
    assert.equal(await get("/before", [node]), "written before any failure");
  });
});
