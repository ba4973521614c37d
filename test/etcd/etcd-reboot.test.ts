/**
 * Reboot coordination (issue 15, point 5), in the real-etcd harness: the controllers' config from
 * build_template, its etcd-reboot script and units run by the harness. update_engine_client and the
 * reboot itself are shims (test/fixtures/flatcar/shims/): the test decides when an update is
 * applied, a node's `systemctl reboot` is a request the test carries out (powerOff, boot). The
 * timer is not run: a test starting pandacluster-etcd-reboot.service is the timer's tick.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { REBOOT_LOCK_KEY, REBOOT_SERVICE, RELEASE_SERVICE } from "../../src/template/etcd/reboot.js";
import { EtcdHarness, waitFor } from "../helpers/etcd-harness.js";
import type { FlatcarNode } from "../helpers/flatcar/node.js";

const NEED_REBOOT = "UPDATE_STATUS_UPDATED_NEED_REBOOT";

describe("controllers reboot for updates one at a time (a lock in etcd v3)", () => {
  let harness: EtcdHarness;
  before(async () => {
    harness = new EtcdHarness({
      size: 3,
      // The script's pace between health checks (5 s on a node): 1 s keeps the test short.
      nodeEnv: { PANDACLUSTER_REBOOT_STEP: "1" },
    });
    await harness.setUp();
    await harness.bootAll();
    await harness.waitHealthy(3);
  });
  after(async () => {
    await harness?.close();
  });

  const lockHolder = async () =>
    (await harness.etcdctl(["get", REBOOT_LOCK_KEY, "--print-value-only"])).trim();

  it("the config turns locksmithd off on controllers and ships the timer, the service and the script", () => {
    const node = harness.nodes[0] as FlatcarNode;
    const files = node.config.storage?.files?.map((f) => f.path) ?? [];
    assert.ok(files.includes("/etc/flatcar/update.conf"), files.join(", "));
    assert.ok(files.includes("/opt/pandacluster/bin/etcd-reboot"), files.join(", "));
    assert.ok(node.bootUnits().includes(RELEASE_SERVICE), "the release runs at every boot");
    assert.deepEqual(node.unit(REBOOT_SERVICE).exec.ExecStart[0]?.words, [
      "/opt/pandacluster/bin/etcd-reboot",
      "check",
    ]);
  });

  it("two controllers wanting to reboot at once: one reboots, the other waits until the first is back", async () => {
    const [a, b] = harness.nodes as [FlatcarNode, FlatcarNode];
    a.setUpdateStatus(NEED_REBOOT);
    b.setUpdateStatus(NEED_REBOOT);
    // Both timers fire at the same moment.
    await Promise.all([a.start(REBOOT_SERVICE), b.start(REBOOT_SERVICE)]);
    const asked = [a, b].filter((n) => n.takeRebootRequest());
    assert.equal(
      asked.length,
      1,
      `exactly one asks for a reboot:\n${a.log(REBOOT_SERVICE)}\n${b.log(REBOOT_SERVICE)}`,
    );
    const first = asked[0] as FlatcarNode;
    const second = first === a ? b : a;
    assert.equal(await lockHolder(), `${first.facts.instanceId} ${first.ip}`);
    assert.match(
      second.log(REBOOT_SERVICE),
      /another controller holds the reboot lock \(i-\w+ [\d.]+\): waiting for it/,
    );

    // The first one is down; the second one's timer ticks again: still not its turn.
    await first.powerOff();
    await second.start(REBOOT_SERVICE);
    assert.equal(second.takeRebootRequest(), false, second.log(REBOOT_SERVICE));
    assert.equal(await lockHolder(), `${first.facts.instanceId} ${first.ip}`, "the lock outlives the reboot");

    // Back up: its release unit waits for a whole cluster, then lets the lock go.
    await first.boot();
    assert.match(first.log(RELEASE_SERVICE), /reboot lock released/);
    assert.equal(await lockHolder(), "");
    await harness.waitHealthy(3);

    await second.start(REBOOT_SERVICE);
    assert.equal(second.takeRebootRequest(), true, second.log(REBOOT_SERVICE));
    await second.reboot();
    await harness.waitHealthy(3);
    assert.equal(await lockHolder(), "");
  });

  it("a holder that never comes back frees the lock by its lease, and nobody reboots while it is missing", async () => {
    const [a, b] = harness.nodes as [FlatcarNode, FlatcarNode];
    for (const n of [a, b])
      n.extraEnv = { PANDACLUSTER_REBOOT_LOCK_TTL: "5", PANDACLUSTER_REBOOT_HEALTH_WAIT: "3" };
    a.setUpdateStatus(NEED_REBOOT);
    await a.start(REBOOT_SERVICE);
    assert.equal(a.takeRebootRequest(), true, a.log(REBOOT_SERVICE));
    await a.powerOff(); // and it never boots again

    b.setUpdateStatus(NEED_REBOOT);
    const holder = `${a.facts.instanceId} ${a.ip}`;
    // Until the lease expires, the lock is a's; after, b takes it but finds the cluster not whole.
    await waitFor("a's lease to expire", 20_000, async () => (await lockHolder()) !== holder);
    await b.start(REBOOT_SERVICE);
    assert.equal(b.takeRebootRequest(), false, b.log(REBOOT_SERVICE));
    assert.match(
      b.log(REBOOT_SERVICE),
      /not rebooting: a member's endpoint is not healthy after 3s; lock released/,
    );
    assert.equal(await lockHolder(), "");
    await a.boot();
    await harness.waitHealthy(3);
    for (const n of [a, b]) n.extraEnv = {};
  });
});
