import { ExitCode } from "../../errors.js";
import type {
  ClusterResult,
  DestroyResult,
  ListResult,
  StatusResult,
  SyncResult,
  UpgradeResult,
} from "../../lifecycle/types.js";
import type { CliContext } from "../context.js";
import { clusterSummary, dryRunSummary } from "./cluster.js";
import { destroySummary } from "./destroy.js";
import { printFailure, printLines, printResult } from "./output.js";
import { listSummary, statusSummary } from "./status.js";
import { upgradeSummary } from "./upgrade.js";

/** Prints a create/wait result (JSON or the summary) and returns the exit code it means. */
export function showCluster(context: CliContext, result: ClusterResult, dryRun = false): number {
  if (context.json) printResult(context, result);
  else if (result.status === "success")
    printLines(context, dryRun ? dryRunSummary(result) : clusterSummary(result));
  else printFailure(context, result.message, result.reasons);
  return result.status === "success" ? ExitCode.ok : ExitCode.failed;
}

export function showDestroy(context: CliContext, result: DestroyResult): number {
  if (context.json) printResult(context, result);
  else if (result.status === "success") printLines(context, destroySummary(result));
  else printFailure(context, result.message, result.reasons);
  return result.status === "success" ? ExitCode.ok : ExitCode.failed;
}

/** Prints a cluster's status (JSON or the summary); a status that could be read is exit 0. */
export function showStatus(context: CliContext, result: StatusResult): number {
  if (context.json) printResult(context, result);
  else printLines(context, statusSummary(result));
  return ExitCode.ok;
}

export function showList(context: CliContext, result: ListResult): number {
  if (context.json) printResult(context, result);
  else printLines(context, listSummary(result));
  return ExitCode.ok;
}

/** Prints what sync changed (one line per record), or that nothing needed changing. */
export function showSync(context: CliContext, result: SyncResult): number {
  if (context.json) printResult(context, result);
  else if (result.status === "success")
    printLines(context, [result.message, ...result.changes.map((line) => `  ${line}`)]);
  else printFailure(context, result.message, result.reasons);
  return result.status === "success" ? ExitCode.ok : ExitCode.failed;
}

/** Prints an upgrade's plan (dry run) or what it replaced; a failure says why and how to go on. */
export function showUpgrade(context: CliContext, result: UpgradeResult): number {
  if (context.json) printResult(context, result);
  else if (result.status === "failure") printFailure(context, result.message, result.reasons);
  else printLines(context, upgradeSummary(result));
  return result.status === "failure" ? ExitCode.failed : ExitCode.ok;
}
