import { randomUUID } from "node:crypto";
import { findClusterZones } from "../aws/dns.js";
import { awsFailure } from "../aws/errors.js";
import { deletedStack, deleteStack, describeStack, type Stack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import type { DestroyOptions } from "../options.js";
import { shellQuote } from "../shell.js";
import { removeDns } from "./dns_cleanup.js";
import { clusterFacts } from "./facts.js";
import { followStack } from "./follow.js";
import { command } from "./hints.js";
import { openSession, type Session, seconds } from "./session.js";
import type { DestroyResult, Hooks } from "./types.js";

const DEFAULT_TIMEOUT_MINUTES = 30;

/**
 * Tears down everything create made: the DNS names first (a private zone associated with the VPC
 * would keep the VPC from being deleted), then DeleteStack with a ClientRequestToken, followed by
 * StackId to DELETE_COMPLETE unless no_wait.
 */
export async function destroy(
  credentials: Config | undefined,
  options: DestroyOptions,
  hooks: Hooks = {},
): Promise<DestroyResult> {
  const session = await openSession(credentials, options, hooks);
  const name = options.stack_name;
  try {
    const stack = await describeStack(session.clients.cloudformation, options.stack_id ?? name);
    if (options.stack_id && (!stack || stack.StackStatus === "DELETE_COMPLETE")) {
      // That very stack is gone: nothing is looked for by name (it could be someone else's now).
      return goneById(session, name, options.stack_id);
    }
    if (!stack) return await alreadyGone(session, name);
    return await destroyStack(session, stack, options);
  } catch (error) {
    throw awsFailure(`destroying ${name}`, error);
  }
}

async function destroyStack(session: Session, stack: Stack, options: DestroyOptions): Promise<DestroyResult> {
  const cf = session.clients.cloudformation;
  const facts = clusterFacts(stack);
  if (!facts.ours) {
    throw new OperationError(
      `the stack ${facts.stack_name} in ${session.region} was not created by pandacluster ` +
        "(it has no pandacluster:cluster tag); not deleting it",
    );
  }
  const removed = await removeDns(session, facts.stack_name, facts.public_domain, "destroy", facts.stack_id);
  // Only this deletion's events are shown: those marked with its token (or, unmarked, from now on;
  // a few seconds back in case our clock runs ahead of AWS's).
  const token = `pandacluster-delete-${randomUUID()}`;
  const since = new Date(Date.now() - 5_000);
  if (stack.StackStatus === "DELETE_IN_PROGRESS") {
    session.emit("destroy", `stack ${facts.stack_name} is already being deleted`);
  } else {
    await deleteStack(cf, facts.stack_id, token);
    session.emit("destroy", `DeleteStack sent for ${facts.stack_name} (${stack.StackStatus})`);
  }
  if (options.no_wait) {
    removed.push(
      ...(await removeDns(session, facts.stack_name, facts.public_domain, "destroy", facts.stack_id)),
    );
    const ref = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
    const message = `deleting ${facts.stack_name} in ${session.region}; follow it with: ${command("wait", ref)}`;
    return destroyResult(session, stack, "success", message, { removed });
  }
  const operation = stack.StackStatus === "DELETE_IN_PROGRESS" ? {} : { token, since };
  const result = await followDeletion(session, stack, options.timeout ?? DEFAULT_TIMEOUT_MINUTES, {
    removed,
    ...operation,
  });
  // A create that was naming the nodes may have made its zone after the first look (a slow Route 53):
  // look again once the stack is gone, so that nothing of the cluster is left.
  if (result.status === "success")
    result.removed.push(
      ...(await removeDns(session, facts.stack_name, facts.public_domain, "destroy", facts.stack_id)),
    );
  return result;
}

/** Follows a deletion by StackId to DELETE_COMPLETE; DELETE_FAILED is a failure with its reasons. */
export async function followDeletion(
  session: Session,
  stack: Stack,
  timeoutMinutes: number,
  more: { removed?: string[]; token?: string; since?: Date } = {},
): Promise<DestroyResult> {
  const name = stack.StackName ?? "";
  const ref = { stack_name: name, region: session.region, profile: session.profile };
  const followed = await followStack(session, {
    stack_id: stack.StackId ?? name,
    stack_name: name,
    goal: "delete",
    deadline: Date.now() + timeoutMinutes * 60_000,
    timeout_minutes: timeoutMinutes,
    ...(more.token ? { token: more.token } : {}),
    // Re-attached to a deletion (wait): its events start when it did.
    ...(more.since || stack.DeletionTime ? { since: more.since ?? stack.DeletionTime } : {}),
  });
  const removed = more.removed ?? [];
  if (followed.ok)
    return destroyResult(session, stack, "success", `cluster ${name} deleted from ${session.region}`, {
      removed,
    });
  const message = `the stack ${name} could not be deleted (${followed.status}); fix the cause below, then run: ${command("destroy", ref)}`;
  return destroyResult(session, stack, "failure", message, { removed, reasons: followed.reasons });
}

function destroyResult(
  session: Session,
  stack: Stack,
  status: DestroyResult["status"],
  message: string,
  more: { removed: string[]; reasons?: string[] },
): DestroyResult {
  return {
    status,
    message,
    stack_name: stack.StackName ?? "",
    stack_id: stack.StackId ?? null,
    region: session.region,
    already_gone: false,
    removed: more.removed,
    reasons: more.reasons ?? [],
    timings: { total: seconds(session.started) },
  };
}

function goneById(session: Session, name: string, stackId: string): DestroyResult {
  return {
    status: "success",
    message: `cluster ${name} was already deleted`,
    stack_name: name,
    stack_id: stackId,
    region: session.region,
    already_gone: true,
    removed: [],
    reasons: [],
    timings: { total: seconds(session.started) },
  };
}

/**
 * No live stack by that name. If one was deleted (AWS remembers for 90 days) or a zone of ours is
 * left over (removed when `clean`), there is nothing or little left to do and the result says so;
 * otherwise the name is wrong.
 */
export async function alreadyGone(session: Session, name: string, clean = true): Promise<DestroyResult> {
  const [gone, zones] = await Promise.all([
    deletedStack(session.clients.cloudformation, name),
    clean ? findClusterZones(session.clients.route53, name, session.region) : Promise.resolve([]),
  ]);
  const removed = zones.length > 0 ? await removeDns(session, name, null) : [];
  if (!gone && removed.length === 0) {
    throw new OperationError(
      `no cluster named ${name} in ${session.region}; list them with: pandacluster list -r ${shellQuote(session.region)}`,
    );
  }
  const when = gone?.DeletionTime ? ` on ${gone.DeletionTime.toISOString()}` : "";
  const cleaned = removed.length > 0 ? `; removed what was left: ${removed.join(", ")}` : "";
  return {
    status: "success",
    message: `cluster ${name} was already deleted${when}${cleaned}`,
    stack_name: name,
    stack_id: gone?.StackId ?? null,
    region: session.region,
    already_gone: true,
    removed,
    reasons: [],
    timings: { total: seconds(session.started) },
  };
}
