import type { DnsRecord, NodeInfo } from "./types.js";

/** A node with the name it keeps in the private zone (node-<i>.<zone>). */
export type NamedNode = NodeInfo & { name: string };

/** What to change in the private zone so that its names match the nodes in service. */
export interface NamePlan {
  /** The nodes in name order (node-1 first), each with its name. */
  nodes: NamedNode[];
  /** Every record the zone should hold: node-<i> per node, etcd.<zone> for the controllers. */
  records: DnsRecord[];
  upserts: DnsRecord[];
  /** Records to delete, as they are now. */
  deletes: DnsRecord[];
  /** One line per change, for people: "node-4.demo.cluster → 10.0.0.9 (i-…, worker)". */
  changes: string[];
}

const NODE_NAME = /^node-(\d+)\.(.+)$/;

/**
 * Stable names: a node whose address already has a node-<i> record keeps it; a node without one
 * takes the lowest index no surviving node holds (a name freed by a node that is gone); records of
 * names no node holds any more are deleted. etcd.<zone> lists the controllers only (etcd members).
 * A first naming (no records yet) gives node-1… to the controllers, then to the workers, each by
 * private address. Records other than node-<i> and etcd are left alone (the slots' etcd-<i> names
 * belong to the stack and the controllers themselves).
 */
export function planNames(zone: string, nodes: NodeInfo[], existing: DnsRecord[]): NamePlan {
  const ordered = [...nodes.filter((n) => n.private_ip)].sort(
    (a, b) => roleRank(a) - roleRank(b) || ipNumber(a.private_ip) - ipNumber(b.private_ip),
  );
  const ours = existing.filter((r) => isNodeRecord(r, zone) || r.name === `etcd.${zone}`);
  const nameOfIp = new Map<string, string>();
  for (const record of ours) {
    if (!isNodeRecord(record, zone) || record.values.length !== 1) continue;
    const ip = record.values[0] as string;
    const held = nameOfIp.get(ip);
    if (!held || indexOf(record.name) < indexOf(held)) nameOfIp.set(ip, record.name);
  }
  const taken = new Set<string>();
  const named = new Map<NodeInfo, string>();
  for (const node of ordered) {
    const name = nameOfIp.get(node.private_ip as string);
    if (name && !taken.has(name)) {
      taken.add(name);
      named.set(node, name);
    }
  }
  let next = 1;
  for (const node of ordered) {
    if (named.has(node)) continue;
    while (taken.has(`node-${next}.${zone}`)) next += 1;
    const name = `node-${next}.${zone}`;
    taken.add(name);
    named.set(node, name);
  }
  const result = ordered
    .map((node) => ({ ...node, name: named.get(node) as string }))
    .sort((a, b) => indexOf(a.name) - indexOf(b.name));

  const records: DnsRecord[] = result.map((n) => ({
    name: n.name,
    type: "A",
    values: [n.private_ip as string],
  }));
  // A static controller is in etcd.<zone> only while its member says it is healthy (its instance
  // tag): a replacement still joining, or waiting for quorum, is no member to send clients to.
  const controllers = result.filter(
    (n) =>
      (n.role ?? "controller") === "controller" &&
      (n.slot === undefined || (n.etcd_status ?? "").startsWith("healthy")),
  );
  if (controllers.length > 0) {
    records.push({ name: `etcd.${zone}`, type: "A", values: controllers.map((n) => n.private_ip as string) });
  }
  const current = new Map(ours.map((r) => [r.name, r]));
  const upserts = records.filter((r) => !sameValues(current.get(r.name)?.values, r.values));
  const wanted = new Set(records.map((r) => r.name));
  const deletes = ours.filter((r) => !wanted.has(r.name));
  const byName = new Map(result.map((n) => [n.name, n]));
  const changes = [
    ...upserts.map((r) => {
      const node = byName.get(r.name);
      const what = node ? ` (${node.instance_id}, ${node.role ?? "controller"})` : "";
      const was = current.get(r.name);
      return `${r.name} → ${r.values.join(", ")}${what}${was ? ` (was ${was.values.join(", ")})` : ""}`;
    }),
    ...deletes.map((r) => `${r.name} deleted (was ${r.values.join(", ")}: no instance in service there)`),
  ];
  return { nodes: result, records, upserts, deletes, changes };
}

function isNodeRecord(record: DnsRecord, zone: string): boolean {
  const match = NODE_NAME.exec(record.name);
  return match !== null && match[2] === zone;
}

function indexOf(name: string): number {
  return Number(NODE_NAME.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);
}

function roleRank(node: NodeInfo): number {
  return node.role === "worker" ? 1 : 0;
}

function sameValues(a: string[] | undefined, b: string[]): boolean {
  if (!a || a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((v, i) => v === sorted[i]);
}

function ipNumber(ip: string | null): number {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  return ip.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
}
