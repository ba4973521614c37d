import type { Stack, StackEvent } from "../aws/stacks.js";

/** Reasons that only echo another failure: shown after the ones that say what really went wrong. */
const echo =
  /resource creation cancelled|resource update cancelled|the following resource\(s\) failed|rollback requested by user/i;

/**
 * Why a stack failed, from its *_FAILED events (root causes first, cascades after), then the
 * stack's own status reason. Collected from the events as they arrive, so OnFailure=DELETE cannot
 * take them away.
 */
export function failureReasons(events: StackEvent[], stack?: Stack): string[] {
  const failed = events.filter((e) => e.ResourceStatus?.endsWith("_FAILED") && e.ResourceStatusReason);
  const line = (e: StackEvent) =>
    `${e.LogicalResourceId ?? "?"} (${e.ResourceType ?? "?"}) ${e.ResourceStatus}: ${e.ResourceStatusReason}`;
  const roots = failed.filter((e) => !echo.test(e.ResourceStatusReason ?? "")).map(line);
  const echoes = failed.filter((e) => echo.test(e.ResourceStatusReason ?? "")).map(line);
  // The stack's rollback event names the resources that failed; keep it when nothing else does.
  const stackLevel = events
    .filter((e) => e.ResourceType === "AWS::CloudFormation::Stack" && e.ResourceStatusReason)
    .filter((e) => /ROLLBACK_IN_PROGRESS|DELETE_IN_PROGRESS|_FAILED/.test(e.ResourceStatus ?? ""))
    .map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}: ${e.ResourceStatusReason}`);
  const fromStack = stack?.StackStatusReason
    ? [`stack ${stack.StackStatus}: ${stack.StackStatusReason}`]
    : [];
  return [...new Set([...roots, ...echoes, ...stackLevel, ...fromStack])];
}
