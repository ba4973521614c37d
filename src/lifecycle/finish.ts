import type { Zone } from "../aws/dns.js";
import { awsFailure, awsMessage, isTransient, isTransientFailure } from "../aws/errors.js";
import { slotReports } from "../aws/etcd_status.js";
import { describeStack, newStackEvents, outputsOf, type Stack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { OperationError } from "../errors.js";
import { ClusterGoneError, customize } from "./customize.js";
import { clusterFacts } from "./facts.js";
import { type Followed, followStack, type Goal, judge } from "./follow.js";
import { type ClusterRef, command, type Doing, interrupted, withHints } from "./hints.js";
import { waitForNodes } from "./nodes.js";
import { Aborted, DeadlineReached, Pace, pause, within } from "./pace.js";
import { failedCreateMessage, failedUpdateMessage } from "./reasons.js";
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
  only?: { token: string; since: Date },
): Promise<ClusterResult> {
  const deadline = Date.now() + timeoutMinutes * 60_000;
  // `only` marks the events of one update (a scale): an interruption then leaves an update running.
  const stack = await findStack(session, ref, deadline, only ? "updated" : "created");
  const facts = clusterFacts(stack);
  const cref: ClusterRef = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
  const result = new ResultBuilder(facts, session.region, session.started);
  if (launched) {
    const { timings, ...rest } = launched;
    result.step("launch", rest, timings.launch);
  }
  try {
    const formed = await formation(session, stack, { deadline, timeout_minutes: timeoutMinutes, ...only });
    result.step("formation", {
      stack_status: formed.status,
      status_reason: formed.stack?.StackStatusReason ?? null,
      events: formed.events.length,
      polls: formed.polls,
      outputs: formed.stack ? outputsOf(formed.stack) : {},
    });
    if (!formed.ok && formed.goal === "update")
      return result.failure(failedUpdateMessage(facts.stack_name, formed.status), formed.reasons);
    if (!formed.ok || !formed.stack) {
      const gone = formed.status === "ROLLBACK_COMPLETE" || formed.status === "DELETE_COMPLETE";
      const next = gone ? "" : `; remove what is left with: ${command("destroy", cref)}`;
      const reasons = [
        ...formed.reasons,
        ...(await controllersSaid(session, facts.stack_name, formed.reasons)),
      ];
      return result.failure(`${failedCreateMessage(facts.stack_name, formed.status)}${next}`, reasons);
    }
    const size = facts.cluster_size ?? 1;
    const wait = { deadline, timeout_minutes: timeoutMinutes, ref: cref };
    const doing = formed.goal === "update" ? ("updated" as const) : ("created" as const);
    const nodes = await waitForNodes(
      session,
      formed.stack,
      { controllers: size, workers: clusterFacts(formed.stack).workers },
      { ...wait, doing },
    );
    result.withNodes(nodes.nodes);
    result.step("nodes", {
      auto_scaling_group: nodes.auto_scaling_group,
      worker_group: nodes.worker_group,
      count: nodes.nodes.length,
      polls: nodes.polls,
    });

    // A create that goes on in this process made no zone yet; any other (wait, finish) may have.
    const resume = launched === undefined;
    const dns = await customize(session, facts, formed.stack, nodes.nodes, {
      ...wait,
      public_zone: publicZone ?? null,
      resume,
      doing,
    });
    const { changes, nodes: _named, dns_changes, ...info } = dns;
    result.withNodes(dns.nodes);
    result.withDns(info);
    result.step("customize", {
      private_zone_id: dns.private_zone_id,
      public_name: dns.public_name,
      changes,
      dns_changes,
    });
    session.emit("customize", `cluster ${facts.stack_name} is ready`);
    return result.success();
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    if (session.hooks.throw_transient && isTransientFailure(error)) throw error;
    // The stack exists (or may): unless it is known to be gone, say how to resume or remove it.
    const message = error instanceof ClusterGoneError ? error.message : withHints(error.message, cref);
    return result.failure(message, error.reasons);
  }
}

/**
 * The stack, read by id right after CreateStack (or by name for a resumed create). A network
 * failure or throttling here is waited out, saying so, until the deadline: a few seconds of outage
 * right after CreateStack must not end the create of a stack that goes on being created.
 */
async function findStack(session: Session, ref: StackRef, deadline: number, doing: Doing): Promise<Stack> {
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  const cref: ClusterRef = { stack_name: ref.stack_name, region: session.region, profile: session.profile };
  let stack: Stack | undefined;
  for (;;) {
    try {
      stack = await within(
        describeStack(session.clients.cloudformation, ref.stack_id ?? ref.stack_name),
        deadline,
        session.hooks.signal,
      );
      break;
    } catch (error) {
      if (error instanceof Aborted) throw interrupted(cref, doing);
      if (error instanceof DeadlineReached || (isTransient(error) && Date.now() >= deadline))
        throw new OperationError(withHints(`could not read the stack ${ref.stack_name} in time`, cref));
      if (!isTransient(error)) throw awsFailure(`reading stack ${ref.stack_name}`, error);
      session.emit("formation", `${awsMessage(error)}; trying again`, { kind: "warning" });
      pace.slower(2);
      try {
        await pause(Math.min(pace.next(), Math.max(0, deadline - Date.now())), session.hooks.signal);
      } catch (paused) {
        if (paused instanceof Aborted) throw interrupted(cref, doing);
        throw paused;
      }
    }
  }
  if (!stack) throw new OperationError(`no cluster named ${ref.stack_name} in ${session.region}`);
  return stack;
}

/**
 * The stack's formation: nothing to wait for when it is already complete (a resumed create); an
 * update in progress (a scale that was interrupted) is followed as an update, whose rollback is a
 * failure.
 */
async function formation(
  session: Session,
  stack: Stack,
  wait: { deadline: number; timeout_minutes: number; token?: string; since?: Date },
): Promise<Followed & { goal: Goal }> {
  const status = stack.StackStatus ?? "UNKNOWN";
  const goal: Goal = status.startsWith("UPDATE_") && status.endsWith("_IN_PROGRESS") ? "update" : "create";
  if (judge(goal, status) === "ok") {
    session.emit("formation", `stack ${stack.StackName} ${status}`, { status });
    return { stack, status, ok: true, events: [], reasons: [], polls: 0, goal };
  }
  session.emit("formation", `following stack ${stack.StackName} (${status})`, { status });
  // Re-attached to an update: only its events, not the create's history.
  const only = goal === "update" && !wait.token ? await updateStart(session, stack) : {};
  const followed = await followStack(session, {
    stack_id: stack.StackId ?? "",
    stack_name: stack.StackName ?? "",
    goal,
    ...wait,
    ...only,
  });
  return { ...followed, goal };
}

/**
 * Where the update in progress began: its token and time, from the stack's own latest
 * UPDATE_IN_PROGRESS event (LastUpdatedTime alone, where AWS gives it, has no token).
 */
async function updateStart(session: Session, stack: Stack): Promise<{ token?: string; since?: Date }> {
  const events = await newStackEvents(session.clients.cloudformation, stack.StackId ?? "", new Set()).catch(
    () => [],
  );
  const start = events
    .filter(
      (e) => e.ResourceType === "AWS::CloudFormation::Stack" && e.ResourceStatus === "UPDATE_IN_PROGRESS",
    )
    .sort((a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0))[0];
  const since = start?.Timestamp ?? stack.LastUpdatedTime;
  return {
    ...(start?.ClientRequestToken ? { token: start.ClientRequestToken } : {}),
    ...(since ? { since } : {}),
  };
}

/**
 * When a controller group failed (a FAILURE signal, or none in time), what each controller's etcd
 * member said last (its instance tag): the reason CloudFormation's signal cannot carry. Best effort:
 * nothing when EC2 cannot be asked.
 */
async function controllersSaid(session: Session, stackName: string, reasons: string[]): Promise<string[]> {
  if (!reasons.some((r) => /^ControllerGroup\d+ /.test(r))) return [];
  try {
    const reports = await slotReports(session.clients.ec2, stackName);
    return reports
      .filter((r) => !r.status.startsWith("healthy"))
      .map((r) => `etcd-${r.slot} (${r.instance_id}, ${r.state}) said: ${r.status}`);
  } catch {
    return [];
  }
}
