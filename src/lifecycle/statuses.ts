import { awsClients, resolveRegion as resolve } from "../aws/clients.js";
import { allStacks, tagOf } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { TAG } from "./facts.js";
import type { StackStatusEntry } from "./types.js";

/**
 * Every live stack of the region by StackId, from one paginated DescribeStacks without a name: a
 * poller watching N stacks pays per region, not per stack. Deleted stacks are not listed (AWS
 * leaves them out of this call): a stack missing from the map has been deleted.
 */
export async function stackStatuses(
  credentials: Config | undefined,
  region: string,
  profile?: string,
): Promise<Map<string, StackStatusEntry>> {
  const clients = awsClients(credentials, profile ? { region, profile } : { region });
  const statuses = new Map<string, StackStatusEntry>();
  for (const stack of await allStacks(clients.cloudformation)) {
    if (!stack.StackId) continue;
    const entry: StackStatusEntry = {
      stack_id: stack.StackId,
      stack_name: stack.StackName ?? "",
      status: stack.StackStatus ?? "UNKNOWN",
    };
    if (stack.StackStatusReason) entry.reason = stack.StackStatusReason;
    const token = tagOf(stack, TAG.createToken);
    if (token) entry.create_token = token;
    statuses.set(stack.StackId, entry);
  }
  return statuses;
}

/** The region to work in: option, then config, then environment or profile (see aws/clients.ts). */
export function resolveRegion(
  credentials: Config | undefined,
  options: { region?: string; profile?: string },
): Promise<string> {
  return resolve(credentials, options);
}
