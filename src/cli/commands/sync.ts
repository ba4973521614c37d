import { sync } from "../../lifecycle/sync.js";
import type { StackOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showSync } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster sync: bring the cluster's DNS names in line with its instances in service. */
export const run: CommandHandler<StackOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = { onEvent: progress.onEvent, signal: context.signal };
    const result = await sync(context.config().config, options, hooks);
    progress.stop();
    return showSync(context, result);
  });
