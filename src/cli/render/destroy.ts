import type { DestroyResult } from "../../lifecycle/types.js";
import { formatSeconds } from "./time.js";

export function destroySummary(result: DestroyResult): string[] {
  const took = result.timings.total !== undefined ? ` (${formatSeconds(result.timings.total)})` : "";
  const lines = [`${result.message}${result.already_gone ? "" : took}.`];
  if (result.removed.length > 0 && !result.already_gone)
    lines.push(`  removed: ${result.removed.join(", ")}`);
  return lines;
}
