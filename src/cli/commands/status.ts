import { ExitCode } from "../../errors.js";
import { status } from "../../lifecycle/status.js";
import type { StackOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { printJson, printLines } from "../render/output.js";
import { withProgress } from "../render/run.js";
import { statusSummary } from "../render/status.js";

/** pandacluster status: the stack's status, its nodes and DNS names. */
export const run: CommandHandler<StackOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const result = await status(context.config().config, options);
    progress.stop();
    if (context.json) printJson(context, result);
    else printLines(context, statusSummary(result));
    return ExitCode.ok;
  });
