import { upgrade } from "../../lifecycle/upgrade.js";
import type { UpgradeOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showUpgrade } from "../render/results.js";
import { interruptibleHooks, withProgress } from "../render/run.js";

/** pandacluster upgrade: a new image on every node, controllers one at a time. */
export const run: CommandHandler<UpgradeOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = interruptibleHooks(context, progress);
    const result = await upgrade(context.config().config, options, hooks);
    progress.stop();
    return showUpgrade(context, result);
  });
