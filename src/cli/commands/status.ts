import { status } from "../../lifecycle/status.js";
import type { StackOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showStatus } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster status: the stack's status, its nodes and DNS names. */
export const run: CommandHandler<StackOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const result = await status(context.config().config, options);
    progress.stop();
    return showStatus(context, result);
  });
