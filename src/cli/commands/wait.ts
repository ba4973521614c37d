import { wait } from "../../lifecycle/wait.js";
import type { StackOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showCluster, showDestroy, showUpgrade } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster wait: re-attach to a create, destroy or upgrade in progress and finish it. */
export const run: CommandHandler<StackOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = { onEvent: progress.onEvent, signal: context.signal };
    const result = await wait(context.config().config, options, hooks);
    progress.stop();
    if ("cluster" in result) return showCluster(context, result);
    return "plan" in result ? showUpgrade(context, result) : showDestroy(context, result);
  });
