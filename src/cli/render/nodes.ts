import type { DnsInfo, NodeInfo } from "../../lifecycle/types.js";
import { table } from "./table.js";

/** The nodes as a table, each under its DNS name when it has one. */
export function nodeTable(nodes: NodeInfo[], dns: DnsInfo | null): string {
  const nameOf = (node: NodeInfo) =>
    dns?.records.find(
      (r) => /^node-\d+\./.test(r.name) && r.values.length === 1 && r.values[0] === node.private_ip,
    )?.name ?? "-";
  const rows = nodes.map((node) => [
    nameOf(node),
    node.role ?? "-",
    node.instance_id,
    node.availability_zone || "-",
    node.private_ip ?? "-",
    node.public_ip ?? "-",
  ]);
  return table(["NAME", "ROLE", "INSTANCE", "ZONE", "PRIVATE IP", "PUBLIC IP"], rows);
}

/** "demo.cluster (zone Z123), etcd.demo.cluster, public demo.example.com" */
export function dnsLines(dns: DnsInfo | null): string[] {
  if (!dns) return [];
  const lines: string[] = [];
  if (dns.private_zone) {
    const etcd = dns.records.find((r) => r.name.startsWith("etcd."));
    lines.push(`  private zone  ${dns.private_zone} (${dns.private_zone_id})${etcd ? `, ${etcd.name}` : ""}`);
  }
  if (dns.public_name) lines.push(`  public name   ${dns.public_name}`);
  return lines;
}
