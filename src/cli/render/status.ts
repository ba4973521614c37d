import type { ListResult, StatusResult } from "../../lifecycle/types.js";
import { dnsLines, nodeTable } from "./nodes.js";
import { table } from "./table.js";

export function statusSummary(status: StatusResult): string[] {
  const kind = [status.channel && `Flatcar ${status.channel}`, status.arch, status.instance_type]
    .filter(Boolean)
    .join(" ");
  const lines = [
    `${status.stack_name}  ${status.stack_status}  ${status.region}${status.created_at ? `  created ${status.created_at}` : ""}`,
    "",
    `  stack         ${status.stack_id}`,
    `  nodes         ${status.nodes.length}${status.cluster_size !== null ? ` of ${status.cluster_size}` : ""}${kind ? ` (${kind})` : ""}`,
    `  image         ${status.image_id ?? "-"}`,
    `  discovery     ${status.discovery_url ?? "-"}`,
    ...dnsLines(status.dns),
  ];
  if (status.status_reason) lines.push(`  reason        ${status.status_reason}`);
  if (status.image?.warning) lines.push("", `Warning: ${status.image.warning}`);
  if (status.nodes.length > 0) lines.push("", nodeTable(status.nodes, status.dns));
  if (status.slots && status.slots.length > 0) lines.push("", "etcd slots:", slotTable(status.slots));
  if (status.reasons.length > 0) lines.push("", "Why it failed:", ...status.reasons.map((r) => `  - ${r}`));
  return lines;
}

/** One row per static controller slot: where it is, whether it signalled, what its member says. */
export function slotTable(slots: NonNullable<StatusResult["slots"]>): string {
  const rows = slots.map((s) => [
    `etcd-${s.slot}`,
    s.availability_zone ?? "-",
    s.instance_id ?? "-",
    s.private_ip ?? "-",
    s.signalled ? "yes" : (s.resource_status ?? "no"),
    s.etcd_status ?? "-",
  ]);
  return table(["SLOT", "ZONE", "INSTANCE", "ADDRESS", "SIGNALLED", "ETCD"], rows);
}

export function listSummary(result: ListResult): string[] {
  if (result.clusters.length === 0) return [`No pandacluster clusters in ${result.region}.`];
  const rows = result.clusters.map((c) => [
    c.stack_name,
    c.stack_status,
    c.cluster_size === null ? "-" : String(c.cluster_size),
    c.channel ?? "-",
    c.arch ?? "-",
    c.created_at ?? "-",
  ]);
  const warnings = result.clusters
    .filter((c) => c.image_warning)
    .map((c) => `  ${c.stack_name}: ${c.image_warning}`);
  return [
    `Clusters in ${result.region}:`,
    "",
    table(["NAME", "STATUS", "SIZE", "CHANNEL", "ARCH", "CREATED"], rows),
    ...(warnings.length > 0 ? ["", "Image warnings:", ...warnings] : []),
  ];
}
