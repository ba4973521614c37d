import { awsFailure, isTransient } from "../aws/errors.js";
import { groupNodes, nodeInfo } from "../aws/nodes.js";
import { type Stack, stackResources } from "../aws/stacks.js";
import { OperationError } from "../errors.js";
import { groupOutput } from "./facts.js";
import { type ClusterRef, interrupted, timedOut } from "./hints.js";
import { Aborted, Pace, pause } from "./pace.js";
import type { Session } from "./session.js";
import type { NodeInfo } from "./types.js";

export interface NodesStep {
  auto_scaling_group: string;
  nodes: NodeInfo[];
  polls: number;
}

/** The nodes' Auto Scaling group: the stack's output, else its resource of that type. */
export async function nodeGroup(session: Session, stack: Stack): Promise<string | undefined> {
  const fromOutput = groupOutput(stack);
  if (fromOutput) return fromOutput;
  const groups = await stackResources(
    session.clients.cloudformation,
    stack.StackId ?? "",
    "AWS::AutoScaling::AutoScalingGroup",
  );
  return groups[0]?.PhysicalResourceId;
}

/**
 * Waits until the group has `size` running instances with addresses, and returns them in a stable
 * order. A complete stack only means the group exists: its instances may still be pending.
 */
export async function waitForNodes(
  session: Session,
  stack: Stack,
  size: number,
  wait: { deadline: number; timeout_minutes: number; ref: ClusterRef },
): Promise<NodesStep> {
  const group = await nodeGroup(session, stack).catch((error) => {
    throw awsFailure("finding the cluster's Auto Scaling group", error);
  });
  if (!group)
    throw new OperationError(`stack ${stack.StackName} has no Auto Scaling group: no nodes to find`);
  session.emit("nodes", `waiting for ${size} running instances in ${group}`);
  const pace = new Pace(session.hooks.poll?.initial_ms, session.hooks.poll?.max_ms);
  let lastCount = -1;
  let polls = 0;
  for (;;) {
    if (session.hooks.signal?.aborted) throw interrupted(wait.ref, "created");
    try {
      polls += 1;
      const all = await groupNodes(session.clients.ec2, group);
      const ready = all.filter((n) => n.state === "running" && n.private_ip);
      if (ready.length >= size) {
        session.emit("nodes", `${ready.length} nodes running`);
        return { auto_scaling_group: group, nodes: ready.map(nodeInfo), polls };
      }
      if (ready.length !== lastCount) {
        lastCount = ready.length;
        const pending = all.length - ready.length;
        session.emit(
          "nodes",
          `${ready.length}/${size} nodes running${pending > 0 ? `, ${pending} starting` : ""}`,
          {
            kind: "waiting",
          },
        );
        pace.reset();
      } else pace.slower();
    } catch (error) {
      if (!isTransient(error)) throw awsFailure("listing the cluster's instances", error);
      pace.slower(2);
    }
    const now = Date.now();
    if (now >= wait.deadline)
      throw timedOut(
        wait.ref,
        wait.timeout_minutes,
        `${stack.StackStatus} with ${Math.max(lastCount, 0)}/${size} nodes running`,
        "created",
      );
    try {
      await pause(Math.min(pace.next(), wait.deadline - now), session.hooks.signal);
    } catch (error) {
      if (error instanceof Aborted) throw interrupted(wait.ref, "created");
      throw error;
    }
  }
}
