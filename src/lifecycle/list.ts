import { awsFailure } from "../aws/errors.js";
import { allStacks } from "../aws/stacks.js";
import type { Config } from "../config.js";
import type { ListOptions } from "../options.js";
import { clusterFacts } from "./facts.js";
import { imageAdvice } from "./image_age.js";
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
      image_id: facts.image_id,
      image_warning: null as string | null,
    }))
    .sort((a, b) => a.stack_name.localeCompare(b.stack_name));
  // One DescribeImages for every cluster's image, one newest lookup per channel and arch.
  const advice = await imageAdvice(
    session.clients.ec2,
    clusters.map((c) => ({
      ...c,
      ref: { stack_name: c.stack_name, region: session.region, profile: session.profile },
    })),
  ).catch(() => clusters.map(() => null));
  clusters.forEach((cluster, i) => {
    cluster.image_warning = advice[i]?.warning ?? null;
  });
  return { region: session.region, clusters };
}
