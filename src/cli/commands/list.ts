import { list } from "../../lifecycle/list.js";
import type { ListOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";
import { showList } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster list: this tool's clusters in the region. */
export const run: CommandHandler<ListOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const result = await list(context.config().config, options);
    progress.stop();
    return showList(context, result);
  });
