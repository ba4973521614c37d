/**
 * The real-etcd harness of issue 15: N controllers of the template that build_template generates,
 * each a FlatcarNode (flatcar/node.ts) on its own loopback address, booted from its launch
 * template's user data: Debian's etcd runs with the environment and flags that the config's
 * etcd-member.service and its drop-ins give it, and the config's own scripts run with bash. Nothing of
 * etcd's settings is written here: a test that changes them changes the product.
 *
 * Every wait has a deadline and says what it waited for; addresses are picked free (127.x.y.z with
 * the config's ports 2379/2380 unbound), so harnesses of several test files never collide.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build_template } from "../../src/index.js";
import { clusterTags } from "../../src/lifecycle/facts.js";
import type { CfnTemplate } from "../../src/template/types.js";
import { evaluate } from "../template/support.js";
import { decodeUserData } from "./boot.js";
import {
  type AwsSide,
  DOMAIN,
  type SlotFacts,
  STACK,
  startAwsSide,
  syntheticFacts,
} from "./etcd-aws-side.js";
import { FlatcarNode, type NodeConfig } from "./flatcar/node.js";

const run = promisify(execFile);
export const ETCDCTL = "/usr/bin/etcdctl";
const NO_UNITS = new URL("../../../test/fixtures/flatcar/no-units.cson", import.meta.url).pathname;

/** Polls `check` (backing off to 500 ms) until it returns a value, or throws naming `what`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/** Whether host:port can be bound now. */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A loopback address 127.x.y.z whose etcd ports (the config's 2379, 2380) are free. */
export async function freeLoopbackAddress(taken: Set<string>): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [a, b, c] = [
      1 + Math.floor(Math.random() * 250),
      Math.floor(Math.random() * 256),
      2 + Math.floor(Math.random() * 250),
    ];
    const ip = `127.${a}.${b}.${c}`;
    if (taken.has(ip)) continue;
    if ((await bindable(ip, 2379)) && (await bindable(ip, 2380))) {
      taken.add(ip);
      return ip;
    }
  }
  throw new Error("no free loopback address with ports 2379 and 2380 unbound after 50 tries");
}

/** The controllers' launch templates of a template: the groups tagged pandacluster:role=controller. */
export function controllerLaunchTemplates(template: CfnTemplate): string[] {
  const ids: string[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== "AWS::AutoScaling::AutoScalingGroup") continue;
    const props = resource.Properties as {
      Tags?: { Key: string; Value: unknown }[];
      LaunchTemplate?: { LaunchTemplateId?: { Ref?: string } };
    };
    const role = props.Tags?.find((t) => t.Key === "pandacluster:role")?.Value;
    const lt = props.LaunchTemplate?.LaunchTemplateId?.Ref;
    if (role === "controller" && lt) ids.push(lt);
  }
  if (ids.length === 0) throw new Error("harness: the template has no controller group");
  return ids;
}

/** The Ignition config a node of this launch template gets, for these parameter values. */
export function nodeConfig(
  template: CfnTemplate,
  launchTemplate: string,
  params: Record<string, string>,
): NodeConfig {
  const data = template.Resources[launchTemplate]?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = evaluate(data.UserData, {
    "AWS::Region": "us-east-1",
    "AWS::StackName": "harness",
    ...params,
  });
  const decoded = decodeUserData(Buffer.from(String(base64), "base64"));
  if (decoded.format !== "ignition")
    throw new Error("harness: it runs Ignition configs (the default provisioning)");
  return decoded.effective as NodeConfig;
}

export interface HarnessOptions {
  size: number;
  /**
   * static (the product's default): the stack is created in moto, each node is its slot group's
   * instance there, and the nodes' AWS calls, Route 53 names and IMDS answers come from it.
   * discovery: the deprecated mode, from params.DiscoveryURL, no AWS.
   */
  bootstrap?: "static" | "discovery";
  /** The template's parameter values (e.g. DiscoveryURL for a discovery bootstrap). */
  params?: Record<string, string>;
  /** Extra build_template options. */
  build?: Record<string, unknown>;
  awsEndpoint?: string;
  /** Extra environment for every node process (e.g. a node script's tuning knobs). */
  nodeEnv?: Record<string, string>;
  /**
   * Static mode: tag the stack as `create` does (pandacluster:cluster = its name, channel, arch,
   * private domain), so that the library's day-2 flows (upgrade, status) take it as one of theirs.
   */
  tagStack?: boolean;
}

export interface Member {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

export class EtcdHarness {
  readonly nodes: FlatcarNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), "pc-etcd-harness-"));
  template!: CfnTemplate;
  aws?: AwsSide;
  private readonly taken = new Set<string>();
  private generation = 0;

  constructor(readonly options: HarnessOptions) {}

  /** Builds the template (the library's build_template) and provisions N nodes from it. */
  async setUp(): Promise<void> {
    const discovery = this.options.bootstrap === "discovery";
    const built = await build_template(
      {
        channel: "stable",
        offline: true,
        units: NO_UNITS,
        write_path: false,
        cluster_size: this.options.size,
        ...(discovery ? { etcd_bootstrap: "discovery" } : {}),
        ...this.options.build,
      },
      { public_keys: [] },
    );
    this.template = built.template;
    if (discovery) {
      const lts = controllerLaunchTemplates(this.template);
      for (let i = 0; i < this.options.size; i++) {
        this.nodes.push(await this.newNode(i + 1, syntheticFacts(i + 1), lts[0] as string));
      }
      return;
    }
    const tags = this.options.tagStack
      ? clusterTags({ stack_name: STACK, channel: "stable", arch: "amd64", private_domain: DOMAIN })
      : [];
    this.aws = await startAwsSide(this.dir, built.body, this.options.size, this.taken, tags);
    for (let slot = 1; slot <= this.options.size; slot++) {
      this.nodes.push(await this.newNode(slot, await this.aws.slotInstance(slot)));
    }
  }

  /**
   * A fresh instance of slot i: a new root folder (its boot disk) and a new address. It boots from
   * `config` when given (the user data EC2 holds for it), else from the launch template's user data
   * in the template build_template made.
   */
  async newNode(
    slot: number,
    facts: SlotFacts,
    launchTemplate = "LaunchTemplate",
    bootConfig?: NodeConfig,
  ): Promise<FlatcarNode> {
    const config = bootConfig ?? nodeConfig(this.template, launchTemplate, this.options.params ?? {});
    this.generation += 1;
    const node = new FlatcarNode({
      name: `slot-${slot}-${this.generation}`,
      ip: await freeLoopbackAddress(this.taken),
      config,
      parent: this.dir,
      facts,
      env: {
        ETCDCTL_API: "3",
        // The node script's pause between two tries (10 s on a node): 1 s keeps the tests short.
        PANDACLUSTER_ETCD_RETRY_SECONDS: "1",
        ...this.options.nodeEnv,
      },
      ...(this.aws
        ? {
            awsEndpoint: this.aws.moto.endpoint,
            volumes: this.aws.volumes,
            resolvConf: this.aws.resolvConfPath,
            volumeId: facts.tags["pandacluster:volume"],
          }
        : {}),
    });
    node.provision();
    return node;
  }

  /**
   * AWS replaces slot i's instance (its EC2 health check failed, a person terminated it): the
   * instance dies at once, EC2 terminates it (detaching its volumes), the slot's group launches
   * another, which boots from the same launch template. Returns the new node, not yet booted.
   */
  async replace(slot: number): Promise<FlatcarNode> {
    const index = slot - 1;
    const old = this.nodes[index] as FlatcarNode;
    await old.close();
    if (!this.aws) throw new Error("harness: replacing an instance needs the AWS side (static mode)");
    const facts = await this.aws.terminateAndReplace(slot, old.facts.instanceId);
    const node = await this.newNode(slot, facts);
    this.nodes[index] = node;
    return node;
  }

  /**
   * Boots every node; fails after `timeoutMs` naming each node's boot units that have not started
   * (a oneshot that waits for etcd, DNS or a volume), with the end of their logs, instead of running
   * into the test's timeout with no word of what it waited for.
   */
  async bootAll(timeoutMs = 180_000): Promise<void> {
    const booted = Promise.all(this.nodes.map((n) => n.boot()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`timed out after ${timeoutMs / 1000} s waiting for every node's boot units to start`),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([booted, deadline]);
    } catch (error) {
      const waiting = this.nodes
        .filter((n) => n.booting.size > 0)
        .map(
          (n) =>
            `--- ${n.name} (${n.ip}) still starting: ${[...n.booting].join(", ")} ---\n${[...n.booting]
              .map((unit) => `${unit}:\n${n.log(unit).split("\n").slice(-8).join("\n")}`)
              .join("\n")}`,
        )
        .join("\n");
      (error as Error).message += `\n${waiting}`;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** etcdctl (Debian's etcd-client, API v3) against the given nodes' client URLs. */
  async etcdctl(args: string[], nodes: FlatcarNode[] = this.nodes, timeoutMs = 10_000): Promise<string> {
    const endpoints = nodes.map((n) => `http://${n.ip}:2379`).join(",");
    const { stdout } = await run(
      ETCDCTL,
      [`--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=5s", ...args],
      {
        env: { ETCDCTL_API: "3", PATH: "/usr/bin:/bin" },
        timeout: timeoutMs,
      },
    );
    return stdout;
  }

  /**
   * Writes a key through the running members, until the cluster takes it (after a member is
   * killed, the others may first have to elect a leader).
   */
  async put(key: string, value: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(`the cluster to take a write of ${key}`, timeoutMs, async () => {
      await this.etcdctl(
        ["put", key, value],
        this.nodes.filter((n) => n.isRunning("etcd-member.service")),
      );
      return true;
    });
  }

  /**
   * The member list, as a node that answers sees it: etcdctl's simple format ("id, status, name,
   * peer URLs, client URLs, is learner"), IDs kept as the hex strings they are (JSON gives them as
   * numbers beyond JavaScript's exact integers).
   */
  async members(through: FlatcarNode[] = this.nodes): Promise<Member[]> {
    const out = await this.etcdctl(["member", "list", "-w", "simple"], through);
    return out
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const [ID, , name, peers, clients, learner] = line.split(", ");
        return {
          ID: ID as string,
          name: name ?? "",
          peerURLs: (peers ?? "").split(",").filter(Boolean),
          clientURLs: (clients ?? "").split(",").filter(Boolean),
          isLearner: learner === "true",
        };
      });
  }

  /**
   * Waits until `n` started voting members (named, not learners) are listed and every one of them
   * answers healthy; returns the members.
   */
  async waitHealthy(n: number, timeoutMs = 30_000, through?: FlatcarNode[]): Promise<Member[]> {
    return this.explained(() => this.untilHealthy(n, timeoutMs, through));
  }

  /** Runs `wait`; when it throws, the error carries the end of every node's etcd log. */
  async explained<T>(wait: () => Promise<T>): Promise<T> {
    try {
      return await wait();
    } catch (error) {
      const tails = this.nodes
        .map(
          (n) =>
            `--- ${n.name} (${n.ip}) etcd-member.service ---\n${n.log("etcd-member.service").split("\n").slice(-12).join("\n")}`,
        )
        .join("\n");
      (error as Error).message += `\n${tails}`;
      throw error;
    }
  }

  private untilHealthy(n: number, timeoutMs: number, through?: FlatcarNode[]): Promise<Member[]> {
    return waitFor(`${n} healthy voting members`, timeoutMs, async () => {
      const members = await this.members(
        through ?? this.nodes.filter((x) => x.isRunning("etcd-member.service")),
      );
      const voting = members.filter((m) => m.name && !m.isLearner);
      if (voting.length !== n || members.length !== n) return undefined;
      // The members' client URLs name their slots (etcd-i.<zone>), which only the nodes resolve: the
      // harness asks each running node's own address instead, and wants one per member.
      const urls = this.nodes
        .filter((x) => x.isRunning("etcd-member.service"))
        .map((x) => `http://${x.ip}:2379`);
      if (urls.length < n) return undefined;
      await run(
        ETCDCTL,
        [`--endpoints=${urls.join(",")}`, "--dial-timeout=2s", "--command-timeout=3s", "endpoint", "health"],
        {
          env: { ETCDCTL_API: "3", PATH: "/usr/bin:/bin" },
          timeout: 10_000,
        },
      );
      return members;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
    await this.aws?.close();
    if (!process.env.PANDACLUSTER_KEEP_SERVICE_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }
}
