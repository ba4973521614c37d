import { createStack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import type { CreateOptions } from "../options.js";
import { command, interrupted, interruptedBeforeLaunch } from "./hints.js";
import { type Plan, planChecked } from "./plan.js";
import { printableRequest } from "./request.js";
import { openSession, type Session, seconds } from "./session.js";
import type { Hooks, Launched } from "./types.js";

/**
 * All the checks, the resolution and CreateStack; returns as soon as CreateStack has answered.
 * Nothing is created when a check fails.
 */
export async function launch(
  credentials: Config | undefined,
  options: CreateOptions,
  hooks: Hooks = {},
): Promise<Launched> {
  const session = await openSession(credentials, options, hooks);
  return send(session, await planChecked(session, options));
}

/** Sends CreateStack for a plan; the returned Launched is all `finish` needs. */
export async function send(session: Session, planned: Plan): Promise<Launched> {
  if (session.hooks.signal?.aborted) throw interruptedBeforeLaunch();
  // No signal here: an interrupted CreateStack could have created the stack without our knowing.
  const name = planned.input.StackName;
  const ref = { stack_name: name, region: session.region, profile: session.profile };
  session.hooks.onInterruptNote?.(
    `Interrupted while CreateStack for ${name} was being sent: the stack may exist in AWS (${session.region}).\n` +
      `  to see it:               ${command("status", ref)}\n  to follow it and finish:  ${command("wait", ref)}\n` +
      `  to remove it:            ${command("destroy", ref)}`,
  );
  const stackId = await createStack(session.clients.cloudformation, planned.input, session.region);
  session.hooks.onInterruptNote?.(interrupted(ref, "created").message);
  session.emit("launch", `CreateStack accepted: ${stackId}`);
  const launched: Launched = {
    stack_id: stackId,
    stack_name: planned.input.StackName,
    region: session.region,
    image_id: planned.resolved.image.image_id,
    discovery_url: planned.resolved.discovery.url,
    request: printableRequest(planned.input, planned.template),
    resolved: planned.resolved,
    timings: { launch: seconds(session.started) },
  };
  if (session.profile) launched.profile = session.profile;
  if (session.hooks.signal?.aborted) {
    throw interrupted(
      { stack_name: launched.stack_name, region: session.region, profile: session.profile },
      "created",
    );
  }
  return launched;
}
