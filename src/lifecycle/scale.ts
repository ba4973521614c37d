import { randomUUID } from "node:crypto";
import { parameterOf, type Stack, updateStack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { InterruptedError, OperationError, UsageError } from "../errors.js";
import { controllersFixedProblem, type ScaleOptions } from "../options.js";
import { clusterFacts } from "./facts.js";
import { finishIn } from "./finish.js";
import { command, interrupted } from "./hints.js";
import { clusterStack } from "./identity.js";
import { openSession, seconds } from "./session.js";
import type { ClusterResult, Hooks } from "./types.js";

const DEFAULT_TIMEOUT_MINUTES = 30;

/** Stacks a scale may start from: complete, or back where they were after a failed update. */
export const SCALABLE = new Set(["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]);

/** Why the number of controllers cannot change, and what to do instead. */
export function controllersFixed(name: string): UsageError {
  return new UsageError([controllersFixedProblem(name)]);
}

/**
 * Changes a cluster's number of workers: UpdateStack with the previous template, the new Workers
 * value and every other parameter's previous value, and a ClientRequestToken; then, as create does,
 * follows the update's events, waits until the groups have their instances in service, and brings
 * the names in line (survivors keep theirs, new workers take free ones, gone ones are deleted).
 * Returns the same result as create.
 */
export async function scale(
  credentials: Config | undefined,
  options: ScaleOptions,
  hooks: Hooks = {},
): Promise<ClusterResult> {
  if (options.cluster_size !== undefined && options.cluster_size !== null)
    throw controllersFixed(options.stack_name);
  const session = await openSession(credentials, options, hooks);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MINUTES;
  // The cluster's own stack, by its StackId from here on; a stack replaced outside is refused.
  const stack = await clusterStack(session, options, { doing: "reading", ours: true });
  const ref = { stack_name: options.stack_name, region: session.region, profile: session.profile };
  checkScalable(stack, ref);
  const facts = clusterFacts(stack);
  const stackRef = { stack_name: facts.stack_name, stack_id: facts.stack_id, region: session.region };
  if (facts.workers === options.workers) {
    session.emit(
      "launch",
      `${facts.stack_name} already has ${options.workers} workers: checking nodes and names`,
    );
    return finishIn(session, stackRef, timeout);
  }
  if (session.hooks.signal?.aborted) throw nothingChanged();
  const token = `pandacluster-scale-${randomUUID()}`;
  const since = new Date();
  const input = {
    StackName: facts.stack_id,
    UsePreviousTemplate: true,
    Parameters: (stack.Parameters ?? []).map((p) =>
      p.ParameterKey === "Workers"
        ? { ParameterKey: "Workers", ParameterValue: String(options.workers) }
        : { ParameterKey: p.ParameterKey, UsePreviousValue: true },
    ),
    ...(stack.Capabilities?.length ? { Capabilities: stack.Capabilities } : {}),
    ClientRequestToken: token,
  };
  // No signal: an interrupted UpdateStack could have started the update without our knowing.
  const answer = await updateStack(session.clients.cloudformation, input);
  const request = {
    StackName: facts.stack_name,
    UsePreviousTemplate: true,
    Workers: { from: facts.workers, to: options.workers },
    ClientRequestToken: token,
  };
  session.emit(
    "launch",
    answer === "changed"
      ? `UpdateStack accepted: workers ${facts.workers} → ${options.workers}`
      : "UpdateStack: nothing to update",
  );
  const launched = seconds(session.started);
  if (session.hooks.signal?.aborted) throw interrupted(ref, "updated");
  const result = await finishIn(session, stackRef, timeout, undefined, undefined, { token, since });
  result.details.launch = { update: request, answer };
  result.timings = { launch: launched, ...result.timings };
  return result;
}

function checkScalable(stack: Stack, ref: { stack_name: string; region: string; profile?: string }): void {
  const status = stack.StackStatus ?? "UNKNOWN";
  if (SCALABLE.has(status)) {
    if (parameterOf(stack, "Workers") === undefined) {
      throw new UsageError(
        `cluster ${ref.stack_name} has no workers group (its template has no Workers parameter: made ` +
          "before workers existed, or from a template of your own); create a new cluster with --workers",
      );
    }
    return;
  }
  if (status.endsWith("_IN_PROGRESS")) {
    throw new OperationError(
      `cluster ${ref.stack_name} is ${status}: CloudFormation takes one operation at a time; ` +
        `wait for it with: ${command("wait", ref)}, then scale`,
    );
  }
  throw new OperationError(
    `cluster ${ref.stack_name} is ${status} and cannot be scaled; see why with: ${command("status", ref)}`,
  );
}

function nothingChanged(): InterruptedError {
  return new InterruptedError("Interrupted before anything was changed in AWS.");
}
