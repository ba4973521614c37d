import type { Stack, StackEvent } from "../aws/stacks.js";

/** Reasons that only echo another failure: shown after the ones that say what really went wrong. */
const echo =
  /resource creation cancelled|resource update cancelled|the following resource\(s\) failed|rollback requested by user/i;

const isStackEvent = (e: StackEvent) => e.ResourceType === "AWS::CloudFormation::Stack";

/**
 * Why a stack failed: its resources' *_FAILED events (root causes first, cascades after), collected
 * from the events as they arrive, so that OnFailure=DELETE cannot take them away. Only when no
 * resource says why: the stack's own failure events, then its status reason.
 */
export function failureReasons(events: StackEvent[], stack?: Stack): string[] {
  const failed = events.filter(
    (e) => !isStackEvent(e) && e.ResourceStatus?.endsWith("_FAILED") && e.ResourceStatusReason,
  );
  const line = (e: StackEvent) =>
    `${e.LogicalResourceId ?? "?"} (${e.ResourceType ?? "?"}) ${e.ResourceStatus}: ${e.ResourceStatusReason}`;
  const roots = failed.filter((e) => !echo.test(e.ResourceStatusReason ?? "")).map(line);
  const echoes = failed.filter((e) => echo.test(e.ResourceStatusReason ?? "")).map(line);
  if (roots.length + echoes.length > 0) return [...new Set([...roots, ...echoes])];
  const stackLevel = events
    .filter(
      (e) =>
        isStackEvent(e) && e.ResourceStatusReason && /FAILED|ROLLBACK|DELETE/.test(e.ResourceStatus ?? ""),
    )
    .filter((e) => !/^User Initiated$/i.test(e.ResourceStatusReason ?? ""))
    .map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}: ${e.ResourceStatusReason}`);
  if (stackLevel.length > 0) return [...new Set(stackLevel)];
  return stack?.StackStatusReason
    ? [`${stack.StackName} ${stack.StackStatus}: ${stack.StackStatusReason}`]
    : [];
}

/** What became of a stack that failed to create, in words. */
export function failedCreateMessage(name: string, status: string): string {
  if (status === "DELETE_COMPLETE")
    return `the stack ${name} failed to create; CloudFormation deleted it (DELETE_COMPLETE)`;
  if (status === "ROLLBACK_COMPLETE") {
    return `the stack ${name} failed to create; CloudFormation rolled it back (ROLLBACK_COMPLETE)`;
  }
  return `the stack ${name} failed to create (${status})`;
}

/** What became of a stack whose update (a scale) failed, in words. */
export function failedUpdateMessage(name: string, status: string): string {
  if (status === "UPDATE_ROLLBACK_COMPLETE")
    return `the update of ${name} failed; CloudFormation rolled it back (UPDATE_ROLLBACK_COMPLETE): the cluster keeps its former size`;
  return `the update of ${name} failed (${status})`;
}
