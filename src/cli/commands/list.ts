import { ExitCode } from "../../errors.js";
import { list } from "../../lifecycle/list.js";
import type { ListOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { printJson, printLines } from "../render/output.js";
import { withProgress } from "../render/run.js";
import { listSummary } from "../render/status.js";

/** pandacluster list: this tool's clusters in the region. */
export const run: CommandHandler<ListOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const result = await list(context.config().config, options);
    progress.stop();
    if (context.json) printJson(context, result);
    else printLines(context, listSummary(result));
    return ExitCode.ok;
  });
