import type { ClusterFacts } from "./facts.js";
import { seconds } from "./session.js";
import type { ClusterInfo, ClusterResult, DnsInfo, NodeInfo } from "./types.js";

/**
 * Collects what each create step found and composes the seed's success-or-failure object from it.
 * Each step records its data and time as it ends, so a failure result still carries what was done.
 */
export class ResultBuilder {
  private readonly details: ClusterResult["details"] = {
    launch: null,
    formation: null,
    nodes: null,
    customize: null,
  };
  private readonly timings: Record<string, number> = {};
  private nodes: NodeInfo[] = [];
  private dns: DnsInfo | null = null;
  private stepStarted = Date.now();

  constructor(
    private readonly facts: ClusterFacts,
    private readonly region: string,
    private readonly started: number,
  ) {}

  /** Data and time of a step that just ended; the next step's clock starts now. */
  step(name: keyof ClusterResult["details"], data: unknown, seconds_?: number): void {
    this.details[name] = data;
    this.timings[name] = seconds_ ?? seconds(this.stepStarted);
    this.stepStarted = Date.now();
  }

  withNodes(nodes: NodeInfo[]): void {
    this.nodes = nodes;
  }

  withDns(dns: DnsInfo): void {
    this.dns = dns;
  }

  success(): ClusterResult {
    const zone = this.dns?.private_zone ? `, named in ${this.dns.private_zone}` : "";
    const workers = this.nodes.filter((n) => n.role === "worker").length;
    const roles = workers > 0 ? ` (${this.nodes.length - workers} controllers, ${workers} workers)` : "";
    const message = `cluster ${this.facts.stack_name} is ready: ${this.nodes.length} nodes${roles} in ${this.region}${zone}`;
    return this.compose("success", message, []);
  }

  failure(message: string, reasons: string[]): ClusterResult {
    return this.compose("failure", message, reasons);
  }

  private compose(status: ClusterResult["status"], message: string, reasons: string[]): ClusterResult {
    return {
      status,
      message,
      cluster: clusterInfo(this.facts, this.region, this.nodes, this.dns),
      details: this.details,
      reasons,
      timings: { ...this.timings, total: seconds(this.started) },
    };
  }
}

export function clusterInfo(
  facts: ClusterFacts,
  region: string,
  nodes: NodeInfo[],
  dns: DnsInfo | null,
): ClusterInfo {
  return {
    stack_name: facts.stack_name,
    stack_id: facts.stack_id || null,
    region,
    channel: facts.channel ?? "unknown",
    arch: facts.arch ?? "unknown",
    instance_type: facts.instance_type ?? "unknown",
    cluster_size: facts.cluster_size ?? nodes.filter((n) => n.role !== "worker").length,
    workers: facts.workers,
    image_id: facts.image_id,
    discovery_url: facts.discovery_url,
    ...(facts.allow_ssh_from !== undefined ? { ssh_from: facts.allow_ssh_from } : {}),
    nodes,
    dns,
  };
}
