import type { AutoScalingClient, AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import { sdk } from "./sdk.js";

/** An Auto Scaling group as scale, sync and the server's reconciler need it. */
export interface GroupState {
  name: string;
  desired: number;
  min: number;
  max: number;
  /** Instances the group counts as serving: LifecycleState InService and Healthy. */
  in_service: string[];
  /** Every instance the group holds, whatever its lifecycle state (Pending, Terminating…). */
  all: string[];
  tags: Record<string, string>;
}

/** DescribeAutoScalingGroups takes at most 100 names per call and answers at most 100 per page. */
const PAGE = 100;

/** The named groups (missing ones are left out), in as few calls as the API allows. */
export async function describeGroups(autoscaling: AutoScalingClient, names: string[]): Promise<GroupState[]> {
  const groups: GroupState[] = [];
  for (let start = 0; start < names.length; start += PAGE) {
    groups.push(...(await pages(autoscaling, { AutoScalingGroupNames: names.slice(start, start + PAGE) })));
  }
  return groups;
}

/**
 * Every group in the region that carries the tag key (pandacluster:cluster): one paginated
 * DescribeAutoScalingGroups, however many clusters there are. `calls` counts the pages asked for.
 */
export async function groupsTagged(
  autoscaling: AutoScalingClient,
  tagKey: string,
  calls?: { count: number },
): Promise<GroupState[]> {
  return pages(autoscaling, { Filters: [{ Name: "tag-key", Values: [tagKey] }] }, calls);
}

async function pages(
  autoscaling: AutoScalingClient,
  input: { AutoScalingGroupNames?: string[]; Filters?: { Name: string; Values: string[] }[] },
  calls?: { count: number },
): Promise<GroupState[]> {
  const { DescribeAutoScalingGroupsCommand } = sdk.autoscaling();
  const groups: GroupState[] = [];
  let token: string | undefined;
  do {
    if (calls) calls.count += 1;
    const page = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ ...input, MaxRecords: PAGE, NextToken: token }),
    );
    groups.push(...(page.AutoScalingGroups ?? []).map(groupOf));
    token = page.NextToken;
  } while (token);
  return groups;
}

function groupOf(group: AutoScalingGroup): GroupState {
  const instances = group.Instances ?? [];
  return {
    name: group.AutoScalingGroupName ?? "",
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    in_service: instances
      .filter((i) => i.LifecycleState === "InService" && (i.HealthStatus ?? "Healthy") === "Healthy")
      .map((i) => i.InstanceId ?? "")
      .filter(Boolean),
    all: instances.map((i) => i.InstanceId ?? "").filter(Boolean),
    tags: Object.fromEntries((group.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
  };
}

/**
 * Terminates one instance of a group through Auto Scaling, which launches its replacement from the
 * group's current launch template version unless `decrement` lowers the desired capacity instead.
 */
export async function terminateInGroup(
  autoscaling: AutoScalingClient,
  instanceId: string,
  decrement: boolean,
): Promise<void> {
  const { TerminateInstanceInAutoScalingGroupCommand } = sdk.autoscaling();
  await autoscaling.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: instanceId,
      ShouldDecrementDesiredCapacity: decrement,
    }),
  );
}

/** Sets a group's maximum and desired capacity (a surge above the stack's size, and back). */
export async function resizeGroup(
  autoscaling: AutoScalingClient,
  name: string,
  size: { max: number; desired: number },
): Promise<void> {
  const { UpdateAutoScalingGroupCommand } = sdk.autoscaling();
  await autoscaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      MaxSize: size.max,
      DesiredCapacity: size.desired,
    }),
  );
}
