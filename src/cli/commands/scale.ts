import { scale } from "../../lifecycle/scale.js";
import type { ScaleOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showCluster } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster scale: change the number of workers, follow the update, name the nodes. */
export const run: CommandHandler<ScaleOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = { onEvent: progress.onEvent, signal: context.signal };
    const result = await scale(context.config().config, options, hooks);
    progress.stop();
    return showCluster(context, result);
  });
