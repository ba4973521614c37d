import { awsFailure } from "../aws/errors.js";
import { allStacks } from "../aws/stacks.js";
import type { Config } from "../config.js";
import type { ListOptions } from "../options.js";
import { clusterFacts } from "./facts.js";
import { openSession } from "./session.js";
import type { ListResult } from "./types.js";

/** This tool's clusters in a region: the live stacks with a pandacluster:cluster tag, by name. */
export async function list(credentials: Config | undefined, options: ListOptions): Promise<ListResult> {
  const session = await openSession(credentials, options);
  const stacks = await allStacks(session.clients.cloudformation).catch((error) => {
    throw awsFailure(`listing the stacks in ${session.region}`, error);
  });
  const clusters = stacks
    .map((stack) => ({ stack, facts: clusterFacts(stack) }))
    .filter(({ facts }) => facts.ours)
    .map(({ stack, facts }) => ({
      stack_name: facts.stack_name,
      stack_id: facts.stack_id,
      stack_status: stack.StackStatus ?? "UNKNOWN",
      created_at: facts.created_at,
      cluster_size: facts.cluster_size,
      channel: facts.channel,
      arch: facts.arch,
    }))
    .sort((a, b) => a.stack_name.localeCompare(b.stack_name));
  return { region: session.region, clusters };
}
