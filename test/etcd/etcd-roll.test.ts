/**
 * Issue 17's etcd proof: the library's own upgrade (src/lifecycle/upgrade.ts → roll.ts) rolls every
 * controller of a real-etcd cluster to a new image while a client keeps writing, and etcd never stops
 * taking writes for longer than one election.
 *
 * The cluster is the real-etcd harness (test/helpers/etcd-harness.ts): the template build_template
 * makes, its stack in moto (tagged as `create` tags it, so upgrade takes it as one of its own), each
 * controller Debian's etcd started from the Ignition config's own units and scripts. `upgrade`
 * updates the stack (new image → a new launch template version) and replaces the controllers through
 * Auto Scaling in its own order, with its own waits (the replacement in service and tagged
 * etcd-healthy by its node script). The harness only plays EC2 (test/helpers/etcd-launcher.ts): an
 * instance that left its group stops, an instance new in its group boots from the user data of the
 * launch template version its group launches from. The stopping is a power loss (SIGKILL, no
 * leadership hand-over): harder than EC2's clean shutdown, so the bound holds for both.
 *
 * The bound: etcd's election timeout T (the config sets none: etcd's default, 1000 ms; read from the
 * etcd-member.service environment when set). A follower that stops hearing from its leader waits a
 * randomized timeout in [T, 2T) before it campaigns, and the vote itself takes a round trip on
 * loopback: one election is at most 2T. A writer's own resolution comes on top: a write sent to the
 * member that just died waits its own deadline before the next is tried, then one interval.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Config } from "../../src/config.js";
import { upgrade } from "../../src/index.js";
import type { ProgressEvent } from "../../src/lifecycle/types.js";
import { STACK } from "../helpers/etcd-aws-side.js";
import { EtcdHarness } from "../helpers/etcd-harness.js";
import { SlotLauncher, userDataConfig } from "../helpers/etcd-launcher.js";
import { EtcdWriter, type WriterReport } from "../helpers/etcd-writer.js";
import type { FlatcarNode } from "../helpers/flatcar/node.js";
import { useAwsEnv } from "../helpers/harness.js";

const TARGET = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm, in moto's image list
const WRITE_EVERY_MS = 75;
const WRITE_TIMEOUT_MS = 500;
/** etcd's default --election-timeout (ms), when the config sets none. */
const ETCD_DEFAULT_ELECTION_MS = 1000;
const credentials: Config = { aws: { id: "testing", secret: "testing", region: "us-east-1" } };

/** The election timeout the controllers' etcd runs with: the config's, else etcd's default. */
function electionTimeoutMs(node: FlatcarNode): number {
  const set = node.unitEnv(node.unit("etcd-member.service")).get("ETCD_ELECTION_TIMEOUT");
  return set ? Number(set) : ETCD_DEFAULT_ELECTION_MS;
}

/** Fails when the writer saw the cluster take no write for longer than `boundMs`. */
function assertWritable(report: WriterReport, boundMs: number): void {
  assert.ok(
    report.longest.ms <= boundMs,
    `etcd took no write for ${report.longest.ms} ms (${report.longest.failed} failed writes, ` +
      `from ${report.longest.from} to ${report.longest.to} ms), longer than one election (${boundMs} ms)`,
  );
}

function figures(label: string, report: WriterReport): string {
  return (
    `${label}: ${report.writes.length} writes, ${report.failed} failed, longest gap ${report.longest.ms} ms ` +
    `(${report.longest.failed} failed in it)`
  );
}

describe("a rolling upgrade of every controller keeps etcd writable (real etcd, the library's roll)", () => {
  let harness: EtcdHarness;
  let restoreEnv: (() => void) | undefined;
  let bound = 0;
  before(async () => {
    harness = new EtcdHarness({ size: 3, tagStack: true });
    await harness.setUp();
    await harness.bootAll();
    await harness.waitHealthy(3, 60_000);
    restoreEnv = useAwsEnv(harness.aws?.moto.endpoint as string);
    const election = electionTimeoutMs(harness.nodes[0] as FlatcarNode);
    bound = 2 * election + WRITE_TIMEOUT_MS + WRITE_EVERY_MS;
  });
  after(async () => {
    restoreEnv?.();
    await harness?.close();
  });
  const running = () => harness.nodes.filter((n) => n.isRunning("etcd-member.service"));
  const memberIds = async () =>
    Object.fromEntries((await harness.members(running())).map((m) => [m.name, m.ID]));
  const endpoints = () => harness.nodes.map((n) => `http://${n.ip}:2379`);
  const keys = async (prefix: string) =>
    new Set(
      (await harness.etcdctl(["get", prefix, "--prefix", "--keys-only"], running(), 30_000))
        .split("\n")
        .filter(Boolean),
    );

  it("upgrade replaces the 3 controllers one at a time; the writer never waits longer than one election", async (t) => {
    const aws = harness.aws;
    assert.ok(aws);
    // What the harness booted from equals what EC2 holds for the instances (so a replacement booted
    // from its own user data boots what the product made).
    for (const node of harness.nodes)
      assert.deepEqual(userDataConfig((await aws.bootData(node.facts.instanceId)).userData), node.config);
    const before = await memberIds();
    const oldInstances = harness.nodes.map((n) => n.facts.instanceId);
    const events: ProgressEvent[] = [];
    const writer = new EtcdWriter(endpoints, {
      intervalMs: WRITE_EVERY_MS,
      timeoutMs: WRITE_TIMEOUT_MS,
      prefix: "/roll",
    }).start();
    const launcher = new SlotLauncher(harness, { stop: "kill" }).start();
    const started = Date.now();
    let result: Awaited<ReturnType<typeof upgrade>>;
    try {
      result = await upgrade(
        credentials,
        { stack_name: STACK, image_id: TARGET, timeout: 4 },
        { onEvent: (e) => events.push(e), poll: { initial_ms: 200, max_ms: 1_000 } },
      );
    } finally {
      await launcher.stop();
    }
    const rollMs = Date.now() - started;
    await harness.waitHealthy(3, 60_000);
    // A second of writes on the whole new cluster, then the figures.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const report = await writer.stop(bound);
    t.diagnostic(figures("roll of 3", report));
    t.diagnostic(
      `roll of 3: upgrade took ${rollMs} ms; steps ${result.replaced.map((s) => `${s.replaced}→${s.by} ${s.seconds} s`).join(", ")}`,
    );
    t.diagnostic(`bound (one election 2×T + one write's deadline + one interval): ${bound} ms`);

    assert.equal(result.status, "success", `${result.message}\n${events.map((e) => e.message).join("\n")}`);
    assert.deepEqual(launcher.errors, []);
    // Every controller replaced, each by a new instance on the new image, booted by the harness.
    assert.equal(result.replaced.length, 3);
    assert.deepEqual(result.replaced.map((s) => s.replaced).sort(), [...oldInstances].sort());
    const nowInstances = harness.nodes.map((n) => n.facts.instanceId);
    for (const id of nowInstances) assert.ok(!oldInstances.includes(id), `${id} is a new instance`);
    assert.deepEqual(result.replaced.map((s) => s.by).sort(), [...nowInstances].sort());
    assert.deepEqual(
      launcher.launched.map((l) => [l.instanceId, l.imageId]).sort(),
      nowInstances.map((id) => [id, TARGET]).sort(),
      "each replacement launched on the new image (the launch template version the update made)",
    );
    // One at a time: each controller went only after the one before was booted (and tagged healthy).
    const terminations = launcher.terminated.map((x) => x.at);
    const boots = launcher.launched.map((l) => l.bootedAt ?? Number.POSITIVE_INFINITY);
    for (let i = 1; i < terminations.length; i++)
      assert.ok(
        (terminations[i] as number) > (boots[i - 1] as number),
        `controller ${i + 1} went at ${terminations[i]} ms, before replacement ${i} booted (${boots[i - 1]} ms)`,
      );
    // Data kept: the same three members (each replacement found its slot's volume), all healthy.
    assert.deepEqual(await memberIds(), before, "the same members, from the slots' volumes");
    // Never unwritable for longer than one election, and every acknowledged write is there.
    assert.ok(report.acknowledged.length > 50, `the writer got ${report.acknowledged.length} writes through`);
    assertWritable(report, bound);
    const stored = await keys("/roll/");
    const lost = report.acknowledged.filter((k) => !stored.has(k));
    assert.deepEqual(lost, [], "every acknowledged write is readable at the end");
  });

  it("negative control: two controllers down together (what the roll never does) stop writes longer than that", async (t) => {
    const writer = new EtcdWriter(endpoints, {
      intervalMs: WRITE_EVERY_MS,
      timeoutMs: WRITE_TIMEOUT_MS,
      prefix: "/control",
    }).start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [a, b] = harness.nodes as [FlatcarNode, FlatcarNode];
    await Promise.all([a.kill(), b.kill()]);
    // Down for longer than the bound: with one member of three, no write can be taken.
    await new Promise((resolve) => setTimeout(resolve, bound + 1_000));
    await Promise.all([a.powerOff(), b.powerOff()]);
    await Promise.all([a.boot(), b.boot()]);
    await harness.waitHealthy(3, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const report = await writer.stop(bound);
    t.diagnostic(figures("two down together", report));
    assert.throws(() => assertWritable(report, bound), /longer than one election/);
    assert.ok(report.longest.failed > 0, "writes failed while quorum was lost");
    const stored = await keys("/control/");
    assert.deepEqual(
      report.acknowledged.filter((k) => !stored.has(k)),
      [],
    );
  });
});
