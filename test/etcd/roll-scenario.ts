/**
 * Issue 17's etcd proof, shared by etcd-roll.test.ts (3 controllers) and etcd-roll-five.test.ts (5):
 * the library's own upgrade (src/lifecycle/upgrade.ts → roll.ts) rolls every controller of a
 * real-etcd cluster to a new image while a client keeps writing, and etcd never stops taking writes
 * for longer than one election.
 *
 * The cluster is the real-etcd harness (test/helpers/etcd-harness.ts): the template build_template
 * makes, its stack in moto (tagged as `create` tags it, so upgrade takes it as one of its own), each
 * controller Debian's etcd started from the Ignition config's own units and scripts. `upgrade`
 * updates the stack (new image → a new launch template version) and replaces the controllers through
 * Auto Scaling in its own order, with its own waits (the replacement in service and tagged
 * etcd-healthy by its node script). The harness only plays EC2 (test/helpers/etcd-launcher.ts): an
 * instance that left its group stops, an instance new in its group boots from its own user data. How
 * it stops is the scenario's choice: EC2's terminate is a clean OS shutdown (systemd's SIGTERM; etcd
 * hands its leadership over before it exits), a power loss is SIGKILL (no hand-over: the others
 * must notice and elect), the harder case.
 *
 * The bound: etcd's election timeout T (the config sets none: etcd's default, 1000 ms; read from the
 * etcd-member.service environment when set). A follower that stops hearing from its leader waits a
 * randomized timeout in [T, 2T) before it campaigns (etcd's raft), and the vote takes a round trip
 * on loopback: one election is at most 2T (a split vote would be a second one). The writer's own
 * resolution comes on top: a write sent to the member that just died waits its own deadline before
 * the next is tried, then one interval. The harness's etcd is Debian's (3.4), not the 3.5 image the
 * config pins: the same raft election timeout and its randomization. And the machine's noise: the
 * longest gap a writer sees in 3 s on the healthy cluster before the roll (a loaded 2-core machine
 * delays writes with no election at all) is added and printed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
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
import { isolatedAwsProcessEnv } from "../helpers/services.js";

const TARGET = "ami-84380cf42e2ae29d6"; // Flatcar-stable-4230.2.3-hvm, in moto's image list
const WRITE_EVERY_MS = 75;
const WRITE_TIMEOUT_MS = 500;
/** How long the writer runs on the healthy cluster before the roll, to measure the machine's noise. */
const CALM_MS = 3_000;
/** etcd's default --election-timeout (ms), when the config sets none. */
const ETCD_DEFAULT_ELECTION_MS = 1000;
/** The AWS CLI against the harness's moto: read back what the roll left. */
function awsCli<T>(endpoint: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) =>
    execFile(
      "aws",
      [...args, "--output", "json"],
      { env: { ...isolatedAwsProcessEnv(endpoint), HOME: "/nonexistent" } },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as T)),
    ),
  );
}

const credentials: Config = { aws: { id: "testing", secret: "testing", region: "us-east-1" } };

/** The election timeout the controllers' etcd runs with: the config's, else etcd's default. */
export function electionTimeoutMs(node: FlatcarNode): number {
  const set = node.unitEnv(node.unit("etcd-member.service")).get("ETCD_ELECTION_TIMEOUT");
  return set ? Number(set) : ETCD_DEFAULT_ELECTION_MS;
}

/** Fails when the writer saw the cluster take no write for longer than `boundMs`. */
export function assertWritable(report: WriterReport, boundMs: number): void {
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

/** The longest gap between acknowledged writes that ended in [from, to). */
function longestIn(report: WriterReport, from: number, to: number): number {
  let longest = 0;
  let last: number | undefined;
  for (const w of report.writes) {
    if (!w.ok) continue;
    if (last !== undefined && w.end >= from && w.end < to) longest = Math.max(longest, w.end - last);
    last = w.end;
  }
  return longest;
}

export function describeRoll(
  size: number,
  options: { negativeControl: boolean; stop: "kill" | "shutdown" },
): void {
  const how =
    options.stop === "kill" ? "each old one killed (power loss)" : "each old one shut down (EC2's terminate)";
  describe(`a rolling upgrade of ${size} controllers keeps etcd writable (real etcd, the library's roll; ${how})`, () => {
    let harness: EtcdHarness;
    let restoreEnv: (() => void) | undefined;
    let bound = 0;
    let calmMs = 0;
    /** Every writer started, stopped in after() too: a test that throws must not leave one writing. */
    const writers: EtcdWriter[] = [];
    const startWriter = (prefix: string, origin?: number) => {
      const writer = new EtcdWriter(endpoints, {
        intervalMs: WRITE_EVERY_MS,
        timeoutMs: WRITE_TIMEOUT_MS,
        prefix,
        ...(origin === undefined ? {} : { origin }),
      }).start();
      writers.push(writer);
      return writer;
    };
    before(async () => {
      harness = new EtcdHarness({ size, tagStack: true });
      await harness.setUp();
      await harness.bootAll();
      await harness.waitHealthy(size, 90_000);
      restoreEnv = useAwsEnv(harness.aws?.moto.endpoint as string);
      // The machine's own noise, measured on the whole healthy cluster before anything is stopped:
      // beside another CI run a write can wait on the CPU for hundreds of ms with no election at
      // all, and that wait is not etcd's. It comes on top of one election (and is printed).
      const calmWriter = startWriter("/calm");
      await new Promise((resolve) => setTimeout(resolve, CALM_MS));
      const calm = await calmWriter.stop();
      calmMs = calm.longest.ms;
      bound =
        2 * electionTimeoutMs(harness.nodes[0] as FlatcarNode) + WRITE_TIMEOUT_MS + WRITE_EVERY_MS + calmMs;
    });
    after(async () => {
      await Promise.all(writers.map((w) => w.stop()));
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

    it(`upgrade replaces the ${size} controllers one at a time; no write waits longer than one election`, async (t) => {
      const aws = harness.aws;
      assert.ok(aws);
      // What the harness booted from is what EC2 holds for the instances: a replacement booted from
      // its own user data boots what the product made.
      for (const node of harness.nodes)
        assert.deepEqual(userDataConfig((await aws.bootData(node.facts.instanceId)).userData), node.config);
      const before = await memberIds();
      const oldInstances = harness.nodes.map((n) => n.facts.instanceId);
      const events: ProgressEvent[] = [];
      const origin = Date.now();
      const writer = startWriter("/roll", origin);
      const launcher = new SlotLauncher(harness, { stop: options.stop, origin }).start();
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
      const rollMs = Date.now() - origin;
      await harness.waitHealthy(size, 60_000);
      // A second of writes on the whole new cluster, then the figures.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const report = await writer.stop(bound);
      t.diagnostic(figures(`roll of ${size}`, report));
      t.diagnostic(
        `roll of ${size}: upgrade() took ${rollMs} ms (stack update and ${result.replaced.length} steps)`,
      );
      launcher.terminated.forEach((gone, i) => {
        const next = launcher.terminated[i + 1]?.at ?? Number.POSITIVE_INFINITY;
        const booted = launcher.launched[i]?.bootedAt;
        t.diagnostic(
          `  step ${i + 1} (slot ${gone.slot}): ${options.stop === "kill" ? "killed" : "shut down"} at ${gone.at} ms, replacement booted (etcd healthy) at ` +
            `${booted} ms, upgrade's step ${result.replaced[i]?.seconds} s; longest write gap in it ` +
            `${longestIn(report, gone.at, next)} ms`,
        );
      });
      t.diagnostic(
        `bound (one election 2×T + one write's deadline + one interval + the longest gap with nothing stopped, ${calmMs} ms): ${bound} ms`,
      );

      assert.equal(result.status, "success", `${result.message}\n${events.map((e) => e.message).join("\n")}`);
      assert.deepEqual(launcher.errors, []);
      // Never unwritable for longer than one election (first: it is the proof, and what a roll that
      // took two members down together breaks).
      assertWritable(report, bound);
      // Every controller replaced, each by a new instance on the new image, booted by the harness.
      assert.equal(result.replaced.length, size);
      assert.deepEqual(result.replaced.map((s) => s.replaced).sort(), [...oldInstances].sort());
      const nowInstances = harness.nodes.map((n) => n.facts.instanceId);
      for (const id of nowInstances) assert.ok(!oldInstances.includes(id), `${id} is a new instance`);
      assert.deepEqual(result.replaced.map((s) => s.by).sort(), [...nowInstances].sort());
      assert.deepEqual(
        launcher.launched.map((l) => [l.instanceId, l.imageId]).sort(),
        nowInstances.map((id) => [id, TARGET]).sort(),
        "each replacement launched on the new image (the launch template version the update made)",
      );
      // One at a time: each controller went only after the one before was back (its boot includes
      // the ready unit, which waits for its member healthy among all N).
      const terminations = launcher.terminated.map((x) => x.at);
      const boots = launcher.launched.map((l) => l.bootedAt ?? Number.POSITIVE_INFINITY);
      assert.equal(terminations.length, size);
      for (let i = 1; i < terminations.length; i++)
        assert.ok(
          (terminations[i] as number) > (boots[i - 1] as number),
          `controller ${i + 1} went at ${terminations[i]} ms, before replacement ${i} was back (${boots[i - 1]} ms)`,
        );
      // Data kept: the same N members, each replacement starting from its slot's volume.
      assert.deepEqual(await memberIds(), before, "the same members, from the slots' volumes");
      for (const node of harness.nodes)
        assert.match(node.log("pandacluster-etcd-prepare.service"), /starting: etcd-\d with its data/);
      // Read back with the AWS CLI: the running controllers are the new instances, on the new image.
      const seen = await awsCli<{
        Reservations: { Instances: { InstanceId: string; ImageId: string }[] }[];
      }>(aws.moto.endpoint, [
        "ec2",
        "describe-instances",
        "--filters",
        "Name=tag:pandacluster:role,Values=controller",
        "Name=instance-state-name,Values=running,pending",
      ]);
      assert.deepEqual(
        seen.Reservations.flatMap((r) => r.Instances.map((i) => [i.InstanceId, i.ImageId])).sort(),
        nowInstances.map((id) => [id, TARGET]).sort(),
      );
      // Every acknowledged write is there.
      assert.ok(
        report.acknowledged.length > 50,
        `the writer got ${report.acknowledged.length} writes through`,
      );
      const stored = await keys("/roll/");
      const lost = report.acknowledged.filter((k) => !stored.has(k));
      assert.deepEqual(lost, [], "every acknowledged write is readable at the end");
    });

    if (!options.negativeControl) return;
    it("negative control: two controllers down together (what the roll never does) stop writes for longer", async (t) => {
      const writer = startWriter("/control");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const [a, b] = harness.nodes as [FlatcarNode, FlatcarNode];
      await Promise.all([a.kill(), b.kill()]);
      // Down for longer than the bound: with one member of three, no write can be taken.
      await new Promise((resolve) => setTimeout(resolve, bound + 1_000));
      await Promise.all([a.powerOff(), b.powerOff()]);
      await Promise.all([a.boot(), b.boot()]);
      await harness.waitHealthy(size, 60_000);
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
}
