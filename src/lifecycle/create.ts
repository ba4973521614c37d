import { awsFailure } from "../aws/errors.js";
import type { Config } from "../config.js";
import { InterruptedError, OperationError } from "../errors.js";
import type { CreateOptions } from "../options.js";
import { defaultPrivateDomain } from "./facts.js";
import { finishIn } from "./finish.js";
import { withHints } from "./hints.js";
import { send } from "./launch.js";
import { type Plan, planChecked } from "./plan.js";
import { printableRequest } from "./request.js";
import { clusterInfo } from "./result.js";
import { openSession, type Session, seconds } from "./session.js";
import type { ClusterResult, Hooks } from "./types.js";

/**
 * The seed's create: launch (check, resolve, CreateStack) → follow the stack → find the nodes →
 * name them (customise) → the result. With dry_run, stops after the checks and returns the
 * CreateStack request it would have sent.
 */
export async function create(
  credentials: Config | undefined,
  options: CreateOptions,
  hooks: Hooks = {},
): Promise<ClusterResult> {
  const session = await openSession(credentials, options, hooks);
  const planned = await planChecked(session, options, options.dry_run);
  if (options.dry_run) return dryRun(session, options, planned);
  const launched = await send(session, planned);
  const ref = { stack_name: launched.stack_name, stack_id: launched.stack_id, region: session.region };
  try {
    return await finishIn(session, ref, options.timeout, launched, planned.public_zone);
  } catch (error) {
    // From here on the stack exists in AWS: every way out says so, and how to resume or remove it.
    if (error instanceof InterruptedError) throw error;
    const failure = awsFailure(`following the stack ${ref.stack_name}`, error);
    const cref = { stack_name: ref.stack_name, region: session.region, profile: session.profile };
    const reasons = failure instanceof OperationError ? failure.reasons : [];
    throw new OperationError(withHints(failure.message, cref), reasons);
  }
}

/** Everything resolved, nothing created: the result carries the request that create would send. */
function dryRun(session: Session, options: CreateOptions, planned: Plan): ClusterResult {
  const facts = {
    stack_name: options.stack_name,
    stack_id: "",
    channel: options.channel,
    arch: options.arch,
    instance_type: options.instance_type,
    cluster_size: options.cluster_size,
    workers: options.workers,
    image_id: planned.resolved.image.image_id,
    discovery_url: planned.resolved.discovery.source === "option" ? planned.resolved.discovery.url : null,
    private_domain: options.private_domain ?? defaultPrivateDomain(options.stack_name),
    public_domain: options.public_domain ?? null,
    created_at: null,
    ours: true,
    allow_ssh_from: options.allow_ssh_from ?? null,
  };
  session.emit("launch", "dry run: nothing was created");
  return {
    status: "success",
    message: `dry run: ${options.stack_name} would be created in ${session.region}; nothing was created`,
    cluster: clusterInfo(facts, session.region, [], null),
    details: {
      launch: {
        dry_run: true,
        request: printableRequest(planned.input, planned.template),
        resolved: planned.resolved,
      },
      formation: null,
      nodes: null,
      customize: null,
    },
    reasons: [],
    timings: { launch: seconds(session.started), total: seconds(session.started) },
  };
}
