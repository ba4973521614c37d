import { create } from "../../lifecycle/create.js";
import type { CreateOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showCluster } from "../render/results.js";
import { interruptibleHooks, withProgress } from "../render/run.js";

/** pandacluster create: launch → follow → nodes → customise, with progress; the cluster summary. */
export const run: CommandHandler<CreateOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = interruptibleHooks(context, progress);
    const result = await create(context.config().config, options, hooks);
    progress.stop();
    return showCluster(context, result, options.dry_run);
  });
