import type { StackEvent } from "../aws/stacks.js";
import type { Session } from "./session.js";
import type { Step } from "./types.js";

interface InProgress {
  status: string;
  type: string;
  since: number;
}

/**
 * The stack events one operation has caused, as they arrive: each reported once (as a progress
 * event), kept for the failure reasons, and the resources still in progress tracked, so that a long
 * wait can say what it waits for.
 */
export class StackEventLog {
  /** Every event reported, oldest first. */
  readonly events: StackEvent[] = [];
  /** Date.now() when the last event arrived. */
  lastActivity = Date.now();
  private readonly busy = new Map<string, InProgress>();

  constructor(
    private readonly session: Session,
    private readonly step: Step,
    private readonly stackName: string,
    /** Which events belong to the operation followed. */
    private readonly belongs: (event: StackEvent) => boolean,
    /** Ids of events already looked at (shared with the reader of DescribeStackEvents). */
    readonly seen: Set<string>,
  ) {}

  /** Takes new events (oldest first) and reports those of this operation; returns how many were new. */
  add(events: StackEvent[]): number {
    for (const event of events) {
      if (event.EventId) this.seen.add(event.EventId);
      if (!this.belongs(event)) continue;
      this.events.push(event);
      this.track(event);
      this.report(event);
    }
    if (events.length > 0) this.lastActivity = Date.now();
    return events.length;
  }

  /** Whether the stack's own event for this status is in (then no later event can be missing). */
  hasFinal(status: string): boolean {
    return this.events.some((e) => e.LogicalResourceId === this.stackName && e.ResourceStatus === status);
  }

  /** "still DELETE_IN_PROGRESS, waiting for: InternetGateway (AWS::EC2::InternetGateway) DELETE_IN_PROGRESS for 4m10s" */
  waitingNote(status: string, now = Date.now()): string {
    const busy = [...this.busy.entries()]
      .sort((a, b) => a[1].since - b[1].since)
      .slice(0, 5)
      .map(([id, p]) => `${id} (${p.type}) ${p.status} for ${duration((now - p.since) / 1000)}`);
    return busy.length > 0
      ? `still ${status}, waiting for: ${busy.join("; ")}`
      : `still ${status}, no new events`;
  }

  private track(event: StackEvent): void {
    const id = event.LogicalResourceId;
    if (!id || id === this.stackName) return;
    if (event.ResourceStatus?.endsWith("_IN_PROGRESS")) {
      const since = (event.Timestamp ?? new Date()).getTime();
      this.busy.set(id, { status: event.ResourceStatus, type: event.ResourceType ?? "", since });
    } else this.busy.delete(id);
  }

  private report(event: StackEvent): void {
    const reason = event.ResourceStatusReason;
    this.session.emit(
      this.step,
      `${event.LogicalResourceId} ${event.ResourceStatus}${reason ? `: ${reason}` : ""}`,
      {
        kind: "stack_event",
        time: (event.Timestamp ?? new Date()).toISOString(),
        ...(event.LogicalResourceId ? { resource: event.LogicalResourceId } : {}),
        ...(event.ResourceType ? { resource_type: event.ResourceType } : {}),
        ...(event.ResourceStatus ? { status: event.ResourceStatus } : {}),
        ...(reason ? { reason } : {}),
      },
    );
  }
}

/** "45s", "4m10s", "1h02m". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
