import type { UpgradeResult } from "../../lifecycle/types.js";
import { table } from "./table.js";

/** The plan (dry run) or the replacements done, as a table in the order they happen. */
export function upgradeSummary(result: UpgradeResult): string[] {
  const lines = [result.message, ""];
  const image = result.image_name ? `${result.image_to} (${result.image_name})` : result.image_to;
  lines.push(`  image         ${result.image_from ?? "-"} → ${image}`);
  if (result.status === "planned") {
    const update = result.stack_update.needed ? "UpdateStack with the new ImageId first" : "not needed";
    lines.push(`  stack update  ${update}`);
    const steps = [...result.plan.controllers, ...result.plan.workers];
    if (steps.length > 0) {
      const rows = steps.map((s) => [
        String(s.order),
        s.role,
        s.instance_id,
        s.private_ip ?? "-",
        `${s.image_from ?? "-"} → ${s.image_to}`,
      ]);
      lines.push("", table(["#", "ROLE", "INSTANCE", "PRIVATE IP", "IMAGE"], rows));
    }
    return lines;
  }
  if (result.replaced.length > 0) {
    const rows = result.replaced.map((s) => [s.role, s.replaced, s.by ?? "-", `${s.seconds}s`]);
    lines.push("", table(["ROLE", "REPLACED", "BY", "TOOK"], rows));
  }
  return lines;
}
