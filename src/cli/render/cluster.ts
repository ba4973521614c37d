import type { ClusterResult } from "../../lifecycle/types.js";
import { dnsLines, nodeTable } from "./nodes.js";
import { formatSeconds } from "./time.js";

/** How to open SSH on a cluster created without it (the stack's AllowSSHFrom parameter). */
export const SSH_HOW =
  "Open it at create with --allow-ssh-from CIDR (your address, e.g. 203.0.113.7/32); on this cluster, " +
  "update the stack's AllowSSHFrom parameter (every other parameter: use the previous value).";

/** The human summary of a create (or a wait that finished one). */
export function clusterSummary(result: ClusterResult): string[] {
  const c = result.cluster;
  const took = result.timings.total !== undefined ? ` in ${formatSeconds(result.timings.total)}` : "";
  const lines = [
    `Cluster ${c.stack_name} is ready in ${c.region}${took}: ${c.nodes.length} nodes, Flatcar ${c.channel} ${c.arch}, ${c.instance_type}.`,
    "",
    `  stack         ${c.stack_id ?? "-"}`,
    `  image         ${c.image_id ?? "-"}`,
    `  discovery     ${c.discovery_url ?? "-"}`,
    ...dnsLines(c.dns),
    "",
    nodeTable(c.nodes, c.dns),
  ];
  const first = c.nodes.find((n) => n.public_ip);
  if (first && c.ssh_from) lines.push("", `  ssh core@${first.public_ip}    (port 22 open to ${c.ssh_from})`);
  else if (first && c.ssh_from === null) lines.push("", `  SSH is closed. ${SSH_HOW}`);
  else if (first) lines.push("", `  ssh core@${first.public_ip}`);
  return lines;
}

/** What a dry run resolved, and the request create would send. */
export function dryRunSummary(result: ClusterResult): string[] {
  const launch = result.details.launch as { request?: unknown; resolved?: { notices?: string[] } } | null;
  return [
    `${result.message}.`,
    "",
    `  image         ${result.cluster.image_id ?? "-"}`,
    `  nodes         ${result.cluster.cluster_size} × ${result.cluster.instance_type}, Flatcar ${result.cluster.channel} ${result.cluster.arch}`,
    "",
    "CreateStack request:",
    JSON.stringify(launch?.request ?? {}, null, 2),
  ];
}
