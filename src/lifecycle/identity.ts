import { awsFailure } from "../aws/errors.js";
import { describeStack, type Stack, tagOf } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import { TAG } from "./facts.js";
import { controllerGroups, groupsOfStack } from "./nodes.js";
import { openSession, type Session } from "./session.js";

/**
 * The stack a cluster's own create made is gone, and a stack of the same name made by someone else
 * (another CreateStack, so another StackId) stands in its place. It is never adopted: scaling it,
 * naming its nodes or writing its zone would act on a cluster that is not this one.
 */
export class StackReplacedError extends OperationError {
  readonly stack_id: string;
  readonly found_stack_id: string;
  constructor(stackName: string, region: string, stackId: string, foundId: string) {
    super(
      `the stack of cluster ${stackName} in ${region} was replaced outside pandacluster: its stack ` +
        `(${stackId}) is deleted and the stack named ${stackName} now is another one (${foundId}); ` +
        "it is not this cluster's and is not touched",
    );
    this.name = "StackReplacedError";
    this.stack_id = stackId;
    this.found_stack_id = foundId;
  }
}

/** The stack a cluster's own create made was deleted (outside the flow asking), and none replaced it. */
export class StackGoneError extends OperationError {
  readonly stack_id: string;
  constructor(stackName: string, region: string, stackId: string) {
    super(`the stack of cluster ${stackName} in ${region} (${stackId}) was deleted: nothing to act on`);
    this.name = "StackGoneError";
    this.stack_id = stackId;
  }
}

/**
 * Which stack a day-2 flow (scale, sync, status, wait) acts on, once: every later call goes by the
 * StackId returned here and the groups that stack owns (its resources), never by name or tag again.
 *
 * - With the StackId a create returned (the server stores it; a library caller may keep it): that
 *   stack and no other. Deleted → StackGoneError, or StackReplacedError when a stack of the same name
 *   with another StackId exists now (never adopted).
 * - Without one (the CLI, which keeps no store): the live stack of that name, pinned by its StackId
 *   from then on, and only when this tool made it for that name (its pandacluster:cluster tag).
 *   See doc/identity.md.
 */
export async function clusterStack(
  session: Session,
  target: { stack_name: string; stack_id?: string | undefined },
  what: { doing: string; ours?: boolean } = { doing: "reading" },
): Promise<Stack> {
  const cf = session.clients.cloudformation;
  const read = (nameOrId: string) =>
    describeStack(cf, nameOrId).catch((error) => {
      throw awsFailure(`${what.doing} stack ${target.stack_name}`, error);
    });
  if (target.stack_id) {
    const stack = await read(target.stack_id);
    if (stack && stack.StackStatus !== "DELETE_COMPLETE") {
      if (stack.StackName !== target.stack_name)
        throw new OperationError(
          `the stack ${target.stack_id} is named ${stack.StackName}, not ${target.stack_name}: not this cluster's`,
        );
      return stack;
    }
    const byName = await read(target.stack_name);
    if (byName?.StackId && byName.StackId !== target.stack_id)
      throw new StackReplacedError(target.stack_name, session.region, target.stack_id, byName.StackId);
    throw new StackGoneError(target.stack_name, session.region, target.stack_id);
  }
  const stack = await read(target.stack_name);
  if (!stack) throw new OperationError(`no cluster named ${target.stack_name} in ${session.region}`);
  if (what.ours && tagOf(stack, TAG.cluster) !== target.stack_name)
    throw new OperationError(
      `the stack ${target.stack_name} in ${session.region} was not created by pandacluster for that name ` +
        `(its ${TAG.cluster} tag is ${JSON.stringify(tagOf(stack, TAG.cluster) ?? null)}); not touching it`,
    );
  return stack;
}

/** What the server learns of a cluster's stack before acting on it (reconciler, PATCH). */
export type StackIdentity =
  | { state: "ours"; stack_id: string; groups: { controllers: string[]; workers: string[] } }
  | { state: "replaced" | "gone"; message: string };

/**
 * The cluster's own stack (by the StackId its create returned) and the Auto Scaling groups that
 * stack owns; or why there is none to act on: deleted, or replaced by another stack of that name.
 * AWS errors are thrown (the caller tries again later).
 */
export async function identify(
  credentials: Config | undefined,
  target: { stack_name: string; region: string; stack_id: string },
): Promise<StackIdentity> {
  const session = await openSession(credentials, target);
  try {
    const stack = await clusterStack(session, target);
    const groups = await groupsOfStack(session.clients.cloudformation, stack.StackId ?? target.stack_id);
    return {
      state: "ours",
      stack_id: stack.StackId ?? target.stack_id,
      groups: {
        controllers: groups ? controllerGroups(groups) : [],
        workers: groups?.workers ? [groups.workers] : [],
      },
    };
  } catch (error) {
    if (error instanceof StackReplacedError) return { state: "replaced", message: error.message };
    if (error instanceof StackGoneError) return { state: "gone", message: error.message };
    throw error;
  }
}
