import { awsFailure, awsMessage, isThrottling, isTransient } from "../aws/errors.js";
import { describeStack, newStackEvents, type Stack, type StackEvent } from "../aws/stacks.js";
import { StackEventLog } from "./event_log.js";
import { interrupted, timedOut } from "./hints.js";
import { Aborted, DeadlineReached, Pace, pause, silenceWatch, within } from "./pace.js";
import { failureReasons } from "./reasons.js";
import type { Session } from "./session.js";

export type Goal = "create" | "delete" | "update";

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

/** An update (scale) ends well only in UPDATE_COMPLETE; a rollback is its failure. */
const updateFailed = new Set([
  "UPDATE_FAILED",
  "UPDATE_ROLLBACK_COMPLETE",
  "UPDATE_ROLLBACK_FAILED",
  "DELETE_COMPLETE",
  "DELETE_FAILED",
  "ROLLBACK_COMPLETE",
]);

/** Where a stack stands with respect to what we wait for. */
export function judge(goal: Goal, status: string): "ok" | "failed" | "waiting" {
  if (goal === "update")
    return status === "UPDATE_COMPLETE" ? "ok" : updateFailed.has(status) ? "failed" : "waiting";
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
  const step = options.goal === "delete" ? "destroy" : "formation";
  const doing = options.goal === "create" ? "created" : options.goal === "update" ? "updated" : "deleted";
  const ref = { stack_name: options.stack_name, region: session.region, profile: session.profile };
  const log = new StackEventLog(
    session,
    step,
    options.stack_name,
    (e) => ofThisOperation(e, options),
    options.seen ?? new Set(),
  );
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  const quietMs = QUIET_PAUSES * (session.hooks.poll?.max_ms ?? 15_000);
  let lastNote = Date.now();
  let warnedFailure = false;
  let polls = 0;
  let status = "UNKNOWN";
  // AWS lost (an outage, a dead endpoint, a hung connection): say so every 30 s, never wait silently.
  const until = new Date(options.deadline).toISOString().slice(11, 19);
  const silence = silenceWatch((silentMs) => {
    session.emit(
      step,
      `no answer from AWS for ${Math.round(silentMs / 1000)} s; still trying until ${until} UTC (the --timeout). ` +
        `The stack is being ${doing} in AWS whatever happens here`,
      { kind: "warning", status },
    );
  }, session.hooks.poll?.silence_ms);
  try {
    for (;;) {
      if (session.hooks.signal?.aborted) throw interrupted(ref, doing);
      try {
        polls += 1;
        const [stack, events] = await within(
          Promise.all([describeStack(cf, options.stack_id), newStackEvents(cf, options.stack_id, log.seen)]),
          options.deadline,
          session.hooks.signal,
        );
        silence.answered();
        const fresh = log.add(events);
        // A stack id always resolves, even once deleted; an emulator may forget it: that is deleted too.
        status = stack?.StackStatus ?? "DELETE_COMPLETE";
        const verdict = judge(options.goal, status);
        if (verdict !== "waiting") {
          // The status may have moved on after the events were read: read them once more, unless the
          // stack's own final event is already in.
          if (!log.hasFinal(status))
            log.add(await newStackEvents(cf, options.stack_id, log.seen).catch(() => []));
          const ok = verdict === "ok";
          const reasons = ok ? [] : failureReasons(log.events, stack);
          return { stack, status, ok, events: log.events, reasons, polls };
        }
        if (options.goal !== "delete" && !warnedFailure && /ROLLBACK|DELETE/.test(status)) {
          warnedFailure = true;
          const first = failureReasons(log.events, stack)[0];
          const undoing = options.goal === "update" ? "rolling the update back" : "cleaning up";
          const message = `the stack failed (${status}); CloudFormation is ${undoing}${first ? `: ${first}` : ""}`;
          session.emit(step, message, { kind: "warning", status });
        }
        if (fresh > 0) pace.reset();
        else pace.slower();
      } catch (error) {
        if (error instanceof Aborted) throw interrupted(ref, doing);
        if (error instanceof DeadlineReached) throw timedOut(ref, options.timeout_minutes, status, doing);
        if (!isTransient(error)) throw awsFailure(`following stack ${options.stack_name}`, error);
        // The SDK has already retried; keep waiting, slower, and say why the progress pauses.
        pace.slower(2);
        const why = isThrottling(error) ? "AWS is throttling our calls" : "cannot reach AWS";
        session.emit(step, `${why} (${awsMessage(error)}); still waiting`, { kind: "warning" });
      }
      const now = Date.now();
      if (now >= options.deadline) throw timedOut(ref, options.timeout_minutes, status, doing);
      if (now - log.lastActivity >= quietMs && now - lastNote >= quietMs) {
        lastNote = now;
        session.emit(step, log.waitingNote(status, now), { kind: "waiting", status });
      }
      try {
        await pause(Math.min(pace.next(), Math.max(0, options.deadline - now)), session.hooks.signal);
      } catch (error) {
        if (error instanceof Aborted) throw interrupted(ref, doing);
        throw error;
      }
    }
  } finally {
    silence.stop();
  }
}

/** An event of the operation followed: marked with its token, or (unmarked) not older than it. */
function ofThisOperation(event: StackEvent, options: FollowOptions): boolean {
  if (options.token && event.ClientRequestToken) return event.ClientRequestToken === options.token;
  return !options.since || !event.Timestamp || event.Timestamp >= options.since;
}
