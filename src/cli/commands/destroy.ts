import { destroy } from "../../lifecycle/destroy.js";
import type { DestroyOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showDestroy } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster destroy: DNS names, then the stack, followed to DELETE_COMPLETE unless --no-wait. */
export const run: CommandHandler<DestroyOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const hooks = { onEvent: progress.onEvent, signal: context.signal };
    const result = await destroy(context.config().config, options, hooks);
    progress.stop();
    return showDestroy(context, result);
  });
