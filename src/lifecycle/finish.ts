import type { Zone } from "../aws/dns.js";
import { awsFailure, isTransientFailure } from "../aws/errors.js";
import { describeStack, outputsOf, type Stack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import { customize } from "./customize.js";
import { clusterFacts } from "./facts.js";
import { type Followed, followStack, judge } from "./follow.js";
import { type ClusterRef, command } from "./hints.js";
import { waitForNodes } from "./nodes.js";
import { failedCreateMessage } from "./reasons.js";
import { ResultBuilder } from "./result.js";
import { openSession, type Session } from "./session.js";
import type { ClusterResult, Hooks, Launched, StackRef } from "./types.js";

const DEFAULT_TIMEOUT_MINUTES = 30;

/**
 * Follows a launched stack to CREATE_COMPLETE (at once if it already is), then finds the nodes and
 * names them. Everything needed is read back from the stack's parameters and tags, so a create can
 * be finished by another process after a crash.
 */
export async function finish(
  credentials: Config | undefined,
  ref: StackRef,
  hooks: Hooks & { timeout_minutes?: number } = {},
): Promise<ClusterResult> {
  const session = await openSession(credentials, ref, hooks);
  return finishIn(session, ref, hooks.timeout_minutes ?? DEFAULT_TIMEOUT_MINUTES);
}

/**
 * The create steps after the launch: formation → nodes → customise → result. Once the stack exists
 * a failure is a result (status "failure" with its reasons), not an exception; only an interrupt
 * (InterruptedError) and a stack that cannot be found are thrown.
 */
export async function finishIn(
  session: Session,
  ref: StackRef,
  timeoutMinutes: number,
  launched?: Launched,
  publicZone?: Zone | null,
): Promise<ClusterResult> {
  const deadline = Date.now() + timeoutMinutes * 60_000;
  const stack = await findStack(session, ref);
  const facts = clusterFacts(stack);
  const cref: ClusterRef = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
  const result = new ResultBuilder(facts, session.region, session.started);
  if (launched) {
    const { timings, ...rest } = launched;
    result.step("launch", rest, timings.launch);
  }
  try {
    const formed = await formation(session, stack, { deadline, timeout_minutes: timeoutMinutes });
    result.step("formation", {
      stack_status: formed.status,
      status_reason: formed.stack?.StackStatusReason ?? null,
      events: formed.events.length,
      polls: formed.polls,
      outputs: formed.stack ? outputsOf(formed.stack) : {},
    });
    if (!formed.ok || !formed.stack) {
      const gone = formed.status === "ROLLBACK_COMPLETE" || formed.status === "DELETE_COMPLETE";
      const next = gone ? "" : `; remove what is left with: ${command("destroy", cref)}`;
      return result.failure(`${failedCreateMessage(facts.stack_name, formed.status)}${next}`, formed.reasons);
    }
    const size = facts.cluster_size ?? 1;
    const wait = { deadline, timeout_minutes: timeoutMinutes, ref: cref };
    const nodes = await waitForNodes(session, formed.stack, size, wait);
    result.withNodes(nodes.nodes);
    result.step("nodes", {
      auto_scaling_group: nodes.auto_scaling_group,
      count: nodes.nodes.length,
      polls: nodes.polls,
    });

    // A create that goes on in this process made no zone yet; any other (wait, finish) may have.
    const resume = launched === undefined;
    const dns = await customize(session, facts, formed.stack, nodes.nodes, {
      ...wait,
      public_zone: publicZone ?? null,
      resume,
    });
    const { changes, ...info } = dns;
    result.withDns(info);
    result.step("customize", { private_zone_id: dns.private_zone_id, public_name: dns.public_name, changes });
    session.emit("customize", `cluster ${facts.stack_name} is ready`);
    return result.success();
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    if (session.hooks.throw_transient && isTransientFailure(error)) throw error;
    return result.failure(error.message, error.reasons);
  }
}

async function findStack(session: Session, ref: StackRef): Promise<Stack> {
  let stack: Stack | undefined;
  try {
    stack = await describeStack(session.clients.cloudformation, ref.stack_id ?? ref.stack_name);
  } catch (error) {
    throw awsFailure(`reading stack ${ref.stack_name}`, error);
  }
  if (!stack) throw new OperationError(`no cluster named ${ref.stack_name} in ${session.region}`);
  return stack;
}

/** The stack's formation: nothing to wait for when it is already complete (a resumed create). */
async function formation(
  session: Session,
  stack: Stack,
  wait: { deadline: number; timeout_minutes: number },
): Promise<Followed> {
  const status = stack.StackStatus ?? "UNKNOWN";
  if (judge("create", status) === "ok") {
    session.emit("formation", `stack ${stack.StackName} ${status}`, { status });
    return { stack, status, ok: true, events: [], reasons: [], polls: 0 };
  }
  session.emit("formation", `following stack ${stack.StackName} (${status})`, { status });
  return followStack(session, {
    stack_id: stack.StackId ?? "",
    stack_name: stack.StackName ?? "",
    goal: "create",
    ...wait,
  });
}
