import { EtcdHarness } from "../test/helpers/etcd-harness.js";
import type { FlatcarNode } from "../test/helpers/flatcar/node.js";
import { median, ratioLine, sized, verdict } from "./measure.js";

/**
 * Issue 15's figure, in the real-etcd harness (test/helpers/etcd-harness.ts: the generated config,
 * the stack in moto, Debian's etcd on loopback): from a controller's termination to N healthy members
 * again. The instance dies, AWS (moto) terminates it and its slot's group launches another, which
 * boots from the launch template (attach the slot's volume, publish etcd-i, start the member with its
 * data) until the cluster has N healthy voting members. Baseline, measured in the same run: the same
 * member's etcd killed and started again with its data on the same instance (no AWS, no script).
 * Rounds alternate (baseline, replacement, ...) so that a slow moment of the machine hits both.
 *
 * --quick: 1 round (else BENCH_ETCD_ROUNDS, default 3). The harness's node-script pace is 1 s
 * between tries (PANDACLUSTER_ETCD_RETRY_SECONDS), so the figure counts those waits as a node would
 * count its 10 s ones, scaled; an instance's launch (a minute or two on EC2) is not in it.
 * Target: a replacement within 6x a plain restart (measured about 3x).
 */
const rounds = sized(3, 1, "BENCH_ETCD_ROUNDS");
const TARGET = 6;
const size = 3;

const harness = new EtcdHarness({ size });
try {
  await harness.setUp();
  await harness.bootAll();
  await harness.waitHealthy(size, 120_000);
  await harness.put("/bench", "written before the first failure");
  const baseline: number[] = [];
  const replacement: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const slot = 1 + (round % size);
    // Baseline: only etcd-member.service restarts, with its data, on the same node.
    const node = harness.nodes[slot - 1] as FlatcarNode;
    let start = process.hrtime.bigint();
    await node.stop("etcd-member.service", "SIGKILL");
    await node.start("etcd-member.service");
    await harness.waitHealthy(size, 120_000);
    baseline.push(Number(process.hrtime.bigint() - start) / 1e6);

    // The figure: the instance is terminated; its replacement boots and rejoins as the slot's member.
    start = process.hrtime.bigint();
    const next = await harness.replace(slot);
    await next.boot();
    await harness.waitHealthy(size, 300_000);
    replacement.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const base = median(baseline);
  console.log(`etcd: ${size} controllers in the harness, ${rounds} round(s), medians`);
  console.log(ratioLine("etcd restart with its data (baseline)", base, base));
  const figure = median(replacement);
  console.log(ratioLine("controller terminated -> N healthy again", figure, base, TARGET));
  process.exitCode = verdict(figure / base <= TARGET);
} finally {
  await harness.close();
}
