import { list } from "../../lifecycle/list.js";
import type { ListOptions } from "../../options.js";
import { rememberClusters } from "../completion/cache.js";
import type { CommandHandler } from "../context.js";
import { showList } from "../render/results.js";
import { withProgress } from "../render/run.js";

/** pandacluster list: this tool's clusters in the region (their names kept for shell completion). */
export const run: CommandHandler<ListOptions> = (options, context) =>
  withProgress(context, async (progress) => {
    const result = await list(context.config().config, options);
    progress.stop();
    rememberClusters(
      result.clusters.map((c) => ({ region: result.region, stack_name: c.stack_name })),
      result.region,
      context.env,
    );
    return showList(context, result);
  });
