import { awsFailure, awsMessage, isThrottling, isTransient } from "../aws/errors.js";
import { describeStack, newStackEvents, type Stack, type StackEvent } from "../aws/stacks.js";
import { interrupted, timedOut } from "./hints.js";
import { Aborted, Pace, pause } from "./pace.js";
import { failureReasons } from "./reasons.js";
import type { Session } from "./session.js";

export type Goal = "create" | "delete";

export interface FollowOptions {
  stack_id: string;
  stack_name: string;
  goal: Goal;
  /** Date.now() after which we stop waiting. */
  deadline: number;
  timeout_minutes: number;
  /** Ids of events not to report again: those seen before, or all those older than this operation. */
  seen?: Set<string>;
  /**
   * Only this operation's events are reported: those carrying its ClientRequestToken (AWS marks
   * every event an operation causes with it) or, for events without one, those from `since` on.
   */
  token?: string;
  since?: Date;
}

export interface Followed {
  /** The stack as last described (undefined once a deleted stack no longer resolves). */
  stack: Stack | undefined;
  status: string;
  ok: boolean;
  /** Every event reported while following, oldest first. */
  events: StackEvent[];
  reasons: string[];
  polls: number;
}

const createOk = new Set([
  "CREATE_COMPLETE",
  "UPDATE_COMPLETE",
  "UPDATE_ROLLBACK_COMPLETE",
  "IMPORT_COMPLETE",
]);
const createFailed = new Set([
  "CREATE_FAILED",
  "ROLLBACK_COMPLETE",
  "ROLLBACK_FAILED",
  "DELETE_COMPLETE",
  "DELETE_FAILED",
  "UPDATE_ROLLBACK_FAILED",
  "IMPORT_ROLLBACK_COMPLETE",
  "IMPORT_ROLLBACK_FAILED",
]);

/** Where a stack stands with respect to what we wait for. */
export function judge(goal: Goal, status: string): "ok" | "failed" | "waiting" {
  if (goal === "delete")
    return status === "DELETE_COMPLETE" ? "ok" : status === "DELETE_FAILED" ? "failed" : "waiting";
  if (createOk.has(status)) return "ok";
  if (createFailed.has(status)) return "failed";
  return "waiting";
}

/**
 * After four of the longest pauses without a new event (a minute by default), say what is still
 * in progress, and again as often: a long silent wait is what users of such tools complain of most.
 */
const QUIET_PAUSES = 4;

/**
 * Follows a stack by its id until it reaches the goal or fails: DescribeStacks plus the new
 * DescribeStackEvents at each poll, every new event reported as it arrives. Polls slow down while
 * nothing happens and speed up when events arrive; throttling and network trouble slow the loop
 * down but never end it. The signal ends the wait (not the work in AWS) with an InterruptedError
 * that says how to resume; the deadline with an OperationError that says the same.
 */
export async function followStack(session: Session, options: FollowOptions): Promise<Followed> {
  const cf = session.clients.cloudformation;
  const step = options.goal === "create" ? "formation" : "destroy";
  const doing = options.goal === "create" ? "created" : "deleted";
  const ref = { stack_name: options.stack_name, region: session.region, profile: session.profile };
  const seen = options.seen ?? new Set<string>();
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  const quietMs = QUIET_PAUSES * (session.hooks.poll?.max_ms ?? 15_000);
  const reported: StackEvent[] = [];
  const progress = new Map<string, { status: string; type: string; since: number }>();
  let lastActivity = Date.now();
  let lastQuietNote = Date.now();
  let warnedFailure = false;
  let polls = 0;
  let stack: Stack | undefined;
  let status = "UNKNOWN";

  const report = (events: StackEvent[]) => {
    for (const event of events) {
      if (event.EventId) seen.add(event.EventId);
      if (!ofThisOperation(event, options)) continue;
      reported.push(event);
      trackProgress(progress, event, options.stack_name);
      const reason = event.ResourceStatusReason;
      session.emit(step, `${event.LogicalResourceId} ${event.ResourceStatus}${reason ? `: ${reason}` : ""}`, {
        kind: "stack_event",
        time: (event.Timestamp ?? new Date()).toISOString(),
        ...(event.LogicalResourceId ? { resource: event.LogicalResourceId } : {}),
        ...(event.ResourceType ? { resource_type: event.ResourceType } : {}),
        ...(event.ResourceStatus ? { status: event.ResourceStatus } : {}),
        ...(reason ? { reason } : {}),
      });
    }
    if (events.length > 0) lastActivity = Date.now();
  };

  for (;;) {
    if (session.hooks.signal?.aborted) throw interrupted(ref, doing);
    try {
      polls += 1;
      const [described, events] = await Promise.all([
        describeStack(cf, options.stack_id),
        newStackEvents(cf, options.stack_id, seen),
      ]);
      report(events);
      stack = described;
      // A stack id always resolves, even once deleted; an emulator may forget it: that is deleted too.
      status = stack?.StackStatus ?? "DELETE_COMPLETE";
      const verdict = judge(options.goal, status);
      if (verdict !== "waiting") {
        // The status may have moved on after the events were read: unless the stack's own final
        // event is in, read the last ones once more.
        const final = reported.some(
          (e) => e.LogicalResourceId === options.stack_name && e.ResourceStatus === status,
        );
        if (!final) report(await newStackEvents(cf, options.stack_id, seen).catch(() => []));
        const ok = verdict === "ok";
        return {
          stack,
          status,
          ok,
          events: reported,
          reasons: ok ? [] : failureReasons(reported, stack),
          polls,
        };
      }
      if (options.goal === "create" && !warnedFailure && /ROLLBACK|DELETE/.test(status)) {
        warnedFailure = true;
        const first = failureReasons(reported, stack)[0];
        session.emit(
          step,
          `the stack failed (${status}); CloudFormation is cleaning up${first ? `: ${first}` : ""}`,
          {
            kind: "warning",
            status,
          },
        );
      }
      if (events.length > 0) pace.reset();
      else pace.slower();
    } catch (error) {
      if (!isTransient(error)) throw awsFailure(`following stack ${options.stack_name}`, error);
      // The SDK has already retried; keep waiting, slower, and say why the progress pauses.
      pace.slower(2);
      const why = isThrottling(error) ? "AWS is throttling our calls" : "cannot reach AWS";
      session.emit(step, `${why} (${awsMessage(error)}); still waiting`, { kind: "warning" });
    }
    const now = Date.now();
    if (now >= options.deadline) throw timedOut(ref, options.timeout_minutes, status, doing);
    if (now - lastActivity >= quietMs && now - lastQuietNote >= quietMs) {
      lastQuietNote = now;
      session.emit(step, quietNote(status, progress, now), { kind: "waiting", status });
    }
    try {
      await pause(Math.min(pace.next(), Math.max(0, options.deadline - now)), session.hooks.signal);
    } catch (error) {
      if (error instanceof Aborted) throw interrupted(ref, doing);
      throw error;
    }
  }
}

function ofThisOperation(event: StackEvent, options: FollowOptions): boolean {
  if (options.token && event.ClientRequestToken) return event.ClientRequestToken === options.token;
  return !options.since || !event.Timestamp || event.Timestamp >= options.since;
}

function trackProgress(
  progress: Map<string, { status: string; type: string; since: number }>,
  event: StackEvent,
  stackName: string,
): void {
  const id = event.LogicalResourceId;
  if (!id || id === stackName) return;
  if (event.ResourceStatus?.endsWith("_IN_PROGRESS")) {
    progress.set(id, {
      status: event.ResourceStatus,
      type: event.ResourceType ?? "",
      since: (event.Timestamp ?? new Date()).getTime(),
    });
  } else progress.delete(id);
}

/** "still DELETE_IN_PROGRESS, waiting for: InternetGateway (AWS::EC2::InternetGateway) DELETE_IN_PROGRESS for 4m10s" */
function quietNote(
  status: string,
  progress: Map<string, { status: string; type: string; since: number }>,
  now: number,
): string {
  const busy = [...progress.entries()]
    .sort((a, b) => a[1].since - b[1].since)
    .slice(0, 5)
    .map(([id, p]) => `${id} (${p.type}) ${p.status} for ${duration((now - p.since) / 1000)}`);
  return busy.length > 0
    ? `still ${status}, waiting for: ${busy.join("; ")}`
    : `still ${status}, no new events`;
}

export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
