import type { UpgradeResult } from "../../lifecycle/types.js";
import { table } from "./table.js";

/** The plan (dry run) or the replacements done, as a table in the order they happen. */
export function upgradeSummary(result: UpgradeResult): string[] {
  const lines = [result.message, ""];
  const image = result.image_name ? `${result.image_to} (${result.image_name})` : result.image_to;
  lines.push(`  image         ${result.image_from ?? "-"} → ${image}`);
  const etcdMoves = !!result.etcd_to && result.etcd_from !== result.etcd_to;
  if (result.etcd_to)
    lines.push(`  etcd          ${etcdMoves ? `${result.etcd_from ?? "-"} → ` : ""}${result.etcd_to}`);
  if (result.status === "planned") {
    const what = etcdMoves ? "the new ImageId and EtcdVersion" : "the new ImageId";
    const update = result.stack_update.needed ? `UpdateStack with ${what} first` : "not needed";
    lines.push(`  stack update  ${update}`);
    const steps = [...result.plan.controllers, ...result.plan.workers];
    if (steps.length > 0) {
      const withEtcd = steps.some((s) => s.etcd_to !== undefined);
      const rows = steps.map((s) => [
        String(s.order),
        s.role,
        s.instance_id,
        s.private_ip ?? "-",
        `${s.image_from ?? "-"} → ${s.image_to}`,
        ...(withEtcd ? [s.etcd_to !== undefined ? `${s.etcd_from ?? "-"} → ${s.etcd_to}` : "-"] : []),
      ]);
      const head = ["#", "ROLE", "INSTANCE", "PRIVATE IP", "IMAGE", ...(withEtcd ? ["ETCD"] : [])];
      lines.push("", table(head, rows));
    }
    return lines;
  }
  if (result.replaced.length > 0) {
    const rows = result.replaced.map((s) => [s.role, s.replaced, s.by ?? "-", `${s.seconds}s`]);
    lines.push("", table(["ROLE", "REPLACED", "BY", "TOOK"], rows));
  }
  return lines;
}
