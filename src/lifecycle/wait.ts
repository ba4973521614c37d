import { awsFailure } from "../aws/errors.js";
import { describeStack, type Stack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import type { StackOptions } from "../options.js";
import { alreadyGone, followDeletion } from "./destroy.js";
import { finishIn } from "./finish.js";
import { clusterStack, StackGoneError } from "./identity.js";
import { openSession, type Session } from "./session.js";
import type { ClusterResult, DestroyResult, Hooks, UpgradeResult } from "./types.js";
import { resumeUpgrade } from "./upgrade.js";

const DEFAULT_TIMEOUT_MINUTES = 30;

/**
 * Re-attaches to a cluster where a create or a destroy left it (after Ctrl-C, --no-wait, a crash)
 * and finishes the remaining steps: a stack being deleted is followed to DELETE_COMPLETE; any other
 * is followed to CREATE_COMPLETE, then its nodes are found and named, as create would have; an
 * upgrade interrupted after its stack update goes on replacing the instances not on the new image.
 */
export async function wait(
  credentials: Config | undefined,
  options: StackOptions,
  hooks: Hooks = {},
): Promise<ClusterResult | DestroyResult | UpgradeResult> {
  const session = await openSession(credentials, options, hooks);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MINUTES;
  const stack = options.stack_id
    ? await pinned(session, options)
    : await describeStack(session.clients.cloudformation, options.stack_name).catch((error) => {
        throw awsFailure(`reading stack ${options.stack_name}`, error);
      });
  if (!stack) return alreadyGone(session, options.stack_name, false);
  if (stack.StackStatus?.startsWith("DELETE_")) {
    session.emit("destroy", `stack ${options.stack_name} is ${stack.StackStatus}`, {
      status: stack.StackStatus,
    });
    return followDeletion(session, stack, timeout);
  }
  // From here on by its StackId: a stack replaced meanwhile under that name is not followed.
  const finished = await finishIn(
    session,
    { stack_name: options.stack_name, stack_id: stack.StackId ?? options.stack_name },
    timeout,
  );
  if (finished.status !== "success") return finished;
  // An upgrade interrupted after its stack update: instances still on the old image are replaced.
  const current = await describeStack(session.clients.cloudformation, stack.StackId ?? options.stack_name);
  const upgraded = current ? await resumeUpgrade(session, current, timeout) : undefined;
  return upgraded ?? finished;
}

/**
 * The stack of that StackId: a deleted one still answers (DELETE_COMPLETE: the deletion is followed
 * to its end at once), unless another stack of that name stands in its place (StackReplacedError).
 */
async function pinned(session: Session, options: StackOptions & { stack_id?: string }): Promise<Stack> {
  const stack = await describeStack(session.clients.cloudformation, options.stack_id ?? "").catch((error) => {
    throw awsFailure(`reading stack ${options.stack_name}`, error);
  });
  if (stack && stack.StackStatus !== "DELETE_COMPLETE") return clusterStack(session, options);
  return (await clusterStack(session, options).catch((error) => {
    if (error instanceof StackGoneError && stack) return stack;
    throw error;
  })) as Stack;
}
