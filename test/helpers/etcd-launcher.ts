/**
 * EC2 for the real-etcd harness while someone else drives Auto Scaling (the library's upgrade roll):
 * it watches the controller slots' groups in moto and does to the harness's nodes what EC2 does to
 * the instances there —
 *
 * - an instance that left its group was terminated: its node stops. EC2's terminate is a clean OS
 *   shutdown (systemd stops etcd with SIGTERM); `stop: "kill"` makes it a power loss (SIGKILL), the
 *   harder case for etcd (no leadership hand-over);
 * - an instance new in its group boots, on a new loopback address, from its user data as EC2 holds it
 *   (DescribeInstanceAttribute: the launch template version Auto Scaling launched it from, as moto
 *   evaluated it; not the test's copy).
 *
 * Nothing here decides which instance goes or when: the test only sees the order and the waits of
 * whoever calls Auto Scaling.
 */

import { decodeUserData } from "./boot.js";
import type { EtcdHarness } from "./etcd-harness.js";
import type { FlatcarNode, NodeConfig } from "./flatcar/node.js";

export interface Launched {
  slot: number;
  instanceId: string;
  imageId: string;
  /** ms since the launcher's origin: seen in its group (its predecessor stopped), booted. */
  seenAt: number;
  bootedAt?: number;
}

export interface Terminated {
  slot: number;
  instanceId: string;
  at: number;
}

/** The Ignition config an instance boots from: its user data (base64, as EC2 gives it). */
export function userDataConfig(userData: string): NodeConfig {
  const decoded = decodeUserData(Buffer.from(userData, "base64"));
  if (decoded.format !== "ignition") throw new Error("launcher: the controllers' user data is not Ignition");
  return decoded.effective as NodeConfig;
}

export class SlotLauncher {
  readonly launched: Launched[] = [];
  readonly terminated: Terminated[] = [];
  readonly errors: string[] = [];
  private readonly started: number;
  private running = true;
  private loop?: Promise<void>;
  private readonly boots: Promise<void>[] = [];
  private readonly known = new Set<string>();

  constructor(
    readonly harness: EtcdHarness,
    readonly options: { pollMs?: number; stop?: "shutdown" | "kill"; origin?: number } = {},
  ) {
    this.started = options.origin ?? Date.now();
    for (const node of harness.nodes) this.known.add(node.facts.instanceId);
  }

  start(): this {
    this.loop = (async () => {
      while (this.running) {
        try {
          for (let slot = 1; slot <= this.harness.options.size; slot++) await this.look(slot);
        } catch (error) {
          this.errors.push(`looking at the groups: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 200));
      }
    })();
    return this;
  }

  private async look(slot: number): Promise<void> {
    const aws = this.harness.aws;
    if (!aws) throw new Error("launcher: the harness has no AWS side (static mode)");
    const live = await aws.slotInstances(slot);
    const index = slot - 1;
    const current = this.harness.nodes[index] as FlatcarNode;
    const currentId = current.facts.instanceId;
    if (!live.includes(currentId) && !this.terminated.some((t) => t.instanceId === currentId)) {
      this.terminated.push({ slot, instanceId: currentId, at: Date.now() - this.started });
      if (this.options.stop === "kill") await current.kill();
      else await current.shutdown();
      await current.imds?.close();
      current.imds = undefined;
    }
    for (const id of live) {
      if (this.known.has(id)) continue;
      this.known.add(id);
      const facts = await aws.facts(id);
      const boot = await aws.bootData(id);
      const record: Launched = {
        slot,
        instanceId: id,
        imageId: boot.imageId,
        seenAt: Date.now() - this.started,
      };
      this.launched.push(record);
      const node = await this.harness.newNode(slot, facts, undefined, userDataConfig(boot.userData));
      this.harness.nodes[index] = node;
      this.boots.push(
        node.boot().then(
          () => {
            record.bootedAt = Date.now() - this.started;
          },
          (error: unknown) => {
            this.errors.push(`booting ${id} (slot ${slot}): ${(error as Error).message}`);
          },
        ),
      );
    }
  }

  /** Stops watching; waits for the boots under way. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.boots);
  }
}
