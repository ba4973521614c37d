import { InterruptedError, OperationError } from "../errors.js";
import { shellQuote } from "../shell.js";

/** What the stack is doing in AWS while we wait: created, deleted, or updated (scale). */
export type Doing = "created" | "deleted" | "updated";

/** Enough to name a cluster on the command line. */
export interface ClusterRef {
  stack_name: string;
  region: string;
  profile?: string;
}

/** The exact command a person types to act on this cluster again. */
export function command(verb: "wait" | "destroy" | "status" | "sync" | "upgrade", ref: ClusterRef): string {
  const profile = ref.profile ? ` --profile ${shellQuote(ref.profile)}` : "";
  return `pandacluster ${verb} -n ${shellQuote(ref.stack_name)} -r ${shellQuote(ref.region)}${profile}`;
}

/**
 * Stopping our wait does not stop CloudFormation: say what still runs in AWS and how to pick it up
 * again or remove it.
 */
export function interrupted(ref: ClusterRef, doing: Doing): InterruptedError {
  const lines = [
    `Interrupted. The stack ${ref.stack_name} is still being ${doing} in AWS (${ref.region}); stopping here does not stop it.`,
    `  to follow it and finish:  ${command("wait", ref)}`,
  ];
  if (doing === "created") lines.push(`  to remove it:            ${command("destroy", ref)}`);
  return new InterruptedError(lines.join("\n"));
}

/** Before CreateStack nothing exists in AWS: an interrupt then has nothing to explain. */
export function interruptedBeforeLaunch(): InterruptedError {
  return new InterruptedError("Interrupted before anything was created in AWS.");
}

export function timedOut(ref: ClusterRef, minutes: number, status: string, doing: Doing) {
  const next =
    doing === "created"
      ? `keep waiting with: ${command("wait", ref)}, or remove it with: ${command("destroy", ref)}`
      : `keep waiting with: ${command("wait", ref)}`;
  return new OperationError(
    `gave up after ${minutes} minute${minutes === 1 ? "" : "s"}: the stack ${ref.stack_name} is still ${status} in AWS (${ref.region}); ${next}`,
  );
}

/**
 * What every failure after CreateStack was accepted ends with: the stack is (or may be) in AWS, and
 * the exact commands to pick it up or remove it. A message that already names them is left as it is.
 */
export function withHints(message: string, ref: ClusterRef): string {
  if (message.includes(command("destroy", ref))) return message;
  return `${message}; the stack ${ref.stack_name} is still in AWS (${ref.region}): follow it with: ${command("wait", ref)}, or remove it with: ${command("destroy", ref)}`;
}
