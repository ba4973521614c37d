import { awsFailure } from "../aws/errors.js";
import { describeStack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import type { StackOptions } from "../options.js";
import { alreadyGone, followDeletion } from "./destroy.js";
import { finishIn } from "./finish.js";
import { openSession } from "./session.js";
import type { ClusterResult, DestroyResult, Hooks } from "./types.js";

const DEFAULT_TIMEOUT_MINUTES = 30;

/**
 * Re-attaches to a cluster where a create or a destroy left it (after Ctrl-C, --no-wait, a crash)
 * and finishes the remaining steps: a stack being deleted is followed to DELETE_COMPLETE; any other
 * is followed to CREATE_COMPLETE, then its nodes are found and named, as create would have.
 */
export async function wait(
  credentials: Config | undefined,
  options: StackOptions,
  hooks: Hooks = {},
): Promise<ClusterResult | DestroyResult> {
  const session = await openSession(credentials, options, hooks);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MINUTES;
  const stack = await describeStack(session.clients.cloudformation, options.stack_name).catch((error) => {
    throw awsFailure(`reading stack ${options.stack_name}`, error);
  });
  if (!stack) return alreadyGone(session, options.stack_name, false);
  if (stack.StackStatus?.startsWith("DELETE_")) {
    session.emit("destroy", `stack ${options.stack_name} is ${stack.StackStatus}`, {
      status: stack.StackStatus,
    });
    return followDeletion(session, stack, timeout);
  }
  return finishIn(
    session,
    { stack_name: options.stack_name, stack_id: stack.StackId ?? options.stack_name },
    timeout,
  );
}
