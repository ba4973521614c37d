import { randomUUID } from "node:crypto";
import { awsFailure } from "../aws/errors.js";
import { latestUserData } from "../aws/launch_templates.js";
import { describeStack, ownedResources, parameterOf, type Stack, updateStack } from "../aws/stacks.js";
import type { Config } from "../config.js";
import { argumentSpec } from "../definitions.js";
import { InterruptedError, OperationError, UsageError } from "../errors.js";
import type { Arch, Channel, UpgradeOptions } from "../options.js";
import { shellQuote } from "../shell.js";
import { CONTROLLER_LAUNCH_TEMPLATE } from "../template/etcd/slots.js";
import { compareVersions, ETCD_VERSION_PARAMETER, etcdMoveProblem } from "../template/etcd/version.js";
import { writtenEtcdVersion } from "../template/etcd/written_version.js";
import { clusterFacts } from "./facts.js";
import { finishIn } from "./finish.js";
import { type ClusterRef, command } from "./hints.js";
import { clusterStack } from "./identity.js";
import { resolveImage } from "./image.js";
import { type ClusterGroups, clusterGroups, nodesInService } from "./nodes.js";
import { planRoll, RollInterrupted, type RollPlan, readFleet, roll } from "./roll.js";
import { SCALABLE } from "./scale.js";
import { openSession, type Session, seconds } from "./session.js";
import { syncNames } from "./sync.js";
import type { Hooks, NodeInfo, RollStep, UpgradeResult } from "./types.js";
import { checkImageFits } from "./volume.js";

const DEFAULT_TIMEOUT_MINUTES = 60;

/** Stacks an upgrade may start from: those a scale may (complete, or back after a failed update). */
const UPGRADABLE = SCALABLE;

/**
 * Moves a cluster to a current Flatcar image: the channel's newest in the cluster's region and arch
 * (DescribeImages, owner 075585003325), or `image_id`; with `etcd_version`, moves the controllers'
 * etcd (the stack's EtcdVersion parameter, within etcd's upgrade rules) and keeps the image unless
 * `image_id` is given too. It updates the stack (its previous template and every parameter's
 * previous value but ImageId and EtcdVersion, with a ClientRequestToken), follows the update
 * as create does, then replaces the instances not on the target (the image; for a controller also
 * its etcd version, its pandacluster:etcd-version tag): the controllers one at a time,
 * each only once the one before is back in service, then the workers in batches that keep
 * `min_healthy` percent in service (see roll.ts for why the tool drives it). DNS names follow each
 * replacement (the new instance takes the name the old one freed). A dry run returns the plan and
 * changes nothing. Running it again (or `wait`) after an interruption goes on where it stopped.
 */
export async function upgrade(
  credentials: Config | undefined,
  options: UpgradeOptions,
  hooks: Hooks = {},
): Promise<UpgradeResult> {
  const session = await openSession(credentials, options, hooks);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MINUTES;
  const deadline = Date.now() + timeout * 60_000;
  const ref: ClusterRef = {
    stack_name: options.stack_name,
    region: session.region,
    profile: session.profile,
  };
  // The live stack of that name only when this tool made it for that name; by its StackId from here on.
  const stack = await clusterStack(session, options, { doing: "reading", ours: true });
  checkUpgradable(stack, ref);
  const facts = clusterFacts(stack);
  const notices: string[] = [];
  const etcd = await etcdTarget(session, stack, options.etcd_version ?? undefined, ref);
  const target = options.image_id
    ? { image_id: options.image_id, name: null }
    : options.etcd_version
      ? // --etcd-version alone keeps the image, also when etcd is already there (nothing to do then).
        currentImage(facts.image_id, ref)
      : await newestImage(session, facts.channel, facts.arch, ref, notices);
  // The new image must fit the root volume the stack sizes (EC2 refuses a smaller one at launch).
  const volumeSize = Number(parameterOf(stack, "VolumeSize"));
  if (Number.isInteger(volumeSize) && volumeSize > 0 && target.image_id !== facts.image_id)
    await checkImageFits(session, volumeSize, target.image_id);
  const groups = await findGroups(session, stack);
  const fleet = await readFleet(session, groups).catch((error) => {
    throw awsFailure("reading the cluster's instances", error);
  });
  const plan = planRoll(fleet, groups, target.image_id, options.min_healthy, etcd.to);
  const needsUpdate = facts.image_id !== target.image_id || etcd.moving;
  const base = {
    stack_name: facts.stack_name,
    stack_id: facts.stack_id,
    region: session.region,
    image_from: facts.image_id,
    image_to: target.image_id,
    image_name: target.name,
    etcd_from: etcd.from ?? null,
    etcd_to: etcd.to ?? null,
    plan,
  };
  if (options.dry_run) {
    return {
      ...base,
      status: "planned",
      message: planMessage(facts.stack_name, plan, needsUpdate, etcd),
      stack_update: { needed: needsUpdate, token: null, answer: null },
      replaced: [],
      nodes: [],
      reasons: notices,
      timings: { total: seconds(session.started) },
    };
  }
  if (!needsUpdate && plan.controllers.length + plan.workers.length === 0) {
    const nodes = await nodesInService(session, groups);
    return {
      ...base,
      status: "success",
      message: `${facts.stack_name} already runs ${target.image_id}${etcd.to ? ` and etcd ${etcd.to}` : ""} on every node: nothing to do`,
      stack_update: { needed: false, token: null, answer: null },
      replaced: [],
      nodes,
      reasons: notices,
      timings: { total: seconds(session.started) },
    };
  }

  const timings: Record<string, number> = {};
  let token: string | null = null;
  let answer: "changed" | "unchanged" | null = null;
  if (needsUpdate) {
    if (session.hooks.signal?.aborted)
      throw new InterruptedError("Interrupted before anything was changed in AWS.");
    token = `pandacluster-upgrade-${randomUUID()}`;
    const since = new Date();
    answer = await updateStack(session.clients.cloudformation, {
      StackName: facts.stack_id,
      UsePreviousTemplate: true,
      Parameters: (stack.Parameters ?? []).map((p) =>
        p.ParameterKey === "ImageId"
          ? { ParameterKey: "ImageId", ParameterValue: target.image_id }
          : p.ParameterKey === ETCD_VERSION_PARAMETER && etcd.moving && etcd.to
            ? { ParameterKey: ETCD_VERSION_PARAMETER, ParameterValue: etcd.to }
            : { ParameterKey: p.ParameterKey, UsePreviousValue: true },
      ),
      ...(stack.Capabilities?.length ? { Capabilities: stack.Capabilities } : {}),
      ClientRequestToken: token,
    });
    const etcdMove = etcd.moving ? `, etcd ${etcd.from} → ${etcd.to}` : "";
    session.emit(
      "launch",
      `UpdateStack accepted: image ${facts.image_id ?? "from the image map"} → ${target.image_id}${etcdMove}`,
    );
    hooks.onInterruptNote?.(stillRunning(ref, "the stack update"));
    const updated = await finishIn(
      session,
      { stack_name: facts.stack_name, stack_id: facts.stack_id, region: session.region },
      Math.max(1, Math.round((deadline - Date.now()) / 60_000)),
      undefined,
      undefined,
      { token, since },
    );
    timings.update = seconds(session.started);
    if (updated.status === "failure") {
      return {
        ...base,
        status: "failure",
        message: `the stack update to ${target.image_id}${etcd.moving ? ` and etcd ${etcd.to}` : ""} failed; no instance was replaced: ${updated.message}`,
        stack_update: { needed: true, token, answer },
        replaced: [],
        nodes: updated.cluster.nodes,
        reasons: updated.reasons,
        timings: { ...timings, total: seconds(session.started) },
      };
    }
  }
  return rollIn(session, { ...base, stack_update: { needed: needsUpdate, token, answer } }, groups, {
    ...(etcd.to !== undefined ? { etcd_version: etcd.to } : {}),
    min_healthy: options.min_healthy,
    deadline,
    timeout_minutes: timeout,
    ref,
    timings,
    notices,
  });
}

/**
 * For `wait`: a complete stack whose ImageId some instances do not run yet is an upgrade that was
 * interrupted after its stack update; undefined when there is no roll to finish.
 */
export async function resumeUpgrade(
  session: Session,
  stack: Stack,
  timeoutMinutes: number,
): Promise<UpgradeResult | undefined> {
  const facts = clusterFacts(stack);
  if (!facts.image_id || !UPGRADABLE.has(stack.StackStatus ?? "")) return undefined;
  const groups = await findGroups(session, stack);
  const fleet = await readFleet(session, groups);
  // wait knows no --min-healthy: the definitions' default.
  const minHealthy = Number(argumentSpec("upgrade", "min_healthy").default);
  const etcdVersion = parameterOf(stack, ETCD_VERSION_PARAMETER);
  const plan = planRoll(fleet, groups, facts.image_id, minHealthy, etcdVersion);
  if (plan.controllers.length + plan.workers.length === 0) return undefined;
  const ref: ClusterRef = { stack_name: facts.stack_name, region: session.region, profile: session.profile };
  session.emit(
    "roll",
    `${facts.stack_name} has instances not yet on ${facts.image_id}${etcdVersion ? ` (controllers: etcd ${etcdVersion})` : ""}: going on with its upgrade`,
  );
  return rollIn(
    session,
    {
      stack_name: facts.stack_name,
      stack_id: facts.stack_id,
      region: session.region,
      image_from: null,
      image_to: facts.image_id,
      image_name: null,
      etcd_from: null,
      etcd_to: etcdVersion ?? null,
      plan,
      stack_update: { needed: false, token: null, answer: null },
    },
    groups,
    {
      ...(etcdVersion !== undefined ? { etcd_version: etcdVersion } : {}),
      min_healthy: minHealthy,
      deadline: Date.now() + timeoutMinutes * 60_000,
      timeout_minutes: timeoutMinutes,
      ref,
      timings: {},
      notices: [],
    },
  );
}

type Base = Omit<UpgradeResult, "status" | "message" | "replaced" | "nodes" | "reasons" | "timings">;

async function rollIn(
  session: Session,
  base: Base,
  groups: ClusterGroups,
  how: {
    etcd_version?: string;
    min_healthy: number;
    deadline: number;
    timeout_minutes: number;
    ref: ClusterRef;
    timings: Record<string, number>;
    notices: string[];
  },
): Promise<UpgradeResult> {
  const { ref } = how;
  const target = base.image_to;
  session.hooks.onInterruptNote?.(stillRunning(ref, "the instance being replaced"));
  const afterStep = async () => {
    const stack = await describeStack(session.clients.cloudformation, base.stack_id);
    if (!stack) return;
    const nodes = await nodesInService(session, groups);
    const synced = await syncNames(session, stack, nodes);
    if (synced.status === "failure")
      session.emit("roll", `names not synced yet: ${synced.message}`, { kind: "warning" });
  };
  let replaced: RollStep[] = [];
  try {
    replaced = await roll({ session, groups, target, ...how, afterStep });
  } catch (error) {
    if (error instanceof RollInterrupted) {
      const fleet = await readFleet(session, groups).catch(() => undefined);
      const left = fleet ? planRoll(fleet, groups, target, how.min_healthy, how.etcd_version) : undefined;
      const remaining = left
        ? ` ${left.controllers.length} controllers and ${left.workers.length} workers are not on ${target} yet.`
        : "";
      throw new InterruptedError(
        `Interrupted. The upgrade of ${ref.stack_name} stopped between two steps; the cluster keeps serving.${remaining}\n` +
          "  An instance already told to go is still replaced by Auto Scaling in AWS.\n" +
          `  to go on with it:  ${command("wait", ref)}   (or ${command("upgrade", ref)})`,
      );
    }
    if (!(error instanceof OperationError)) throw error;
    const nodes = await nodesInService(session, groups).catch(() => [] as NodeInfo[]);
    return {
      ...base,
      status: "failure",
      message: error.message,
      replaced,
      nodes,
      reasons: error.reasons,
      timings: { ...how.timings, total: seconds(session.started) },
    };
  }
  how.timings.roll = seconds(session.started) - (how.timings.update ?? 0);
  const nodes = await nodesInService(session, groups);
  const etcdNote = how.etcd_version ? ` (controllers: etcd ${how.etcd_version})` : "";
  session.emit("roll", `cluster ${ref.stack_name} runs ${target} on all ${nodes.length} nodes${etcdNote}`);
  return {
    ...base,
    status: "success",
    message: `${ref.stack_name} upgraded to ${target}${etcdNote}: ${replaced.length} instance${replaced.length === 1 ? "" : "s"} replaced`,
    replaced,
    nodes,
    reasons: how.notices,
    timings: { ...how.timings, total: seconds(session.started) },
  };
}

async function newestImage(
  session: Session,
  channel: string | null,
  arch: string | null,
  ref: ClusterRef,
  notices: string[],
): Promise<{ image_id: string; name: string | null }> {
  if (!channel || !arch) {
    throw new UsageError(
      `cluster ${ref.stack_name} does not say its Flatcar channel and arch (its stack has no pandacluster ` +
        `tags for them): give the image with ${command("upgrade", ref)} --image-id ami-…`,
    );
  }
  const found = await resolveImage(
    session.clients,
    { channel: channel as Channel, arch: arch as Arch },
    notices,
  );
  return { image_id: found.image_id, name: found.name ?? null };
}

async function findGroups(session: Session, stack: Stack): Promise<ClusterGroups> {
  const groups = await clusterGroups(session, stack).catch((error) => {
    throw awsFailure("finding the cluster's Auto Scaling groups", error);
  });
  if (!groups)
    throw new OperationError(`stack ${stack.StackName} has no Auto Scaling group: nothing to upgrade`);
  return groups;
}

function checkUpgradable(stack: Stack, ref: ClusterRef): void {
  const status = stack.StackStatus ?? "UNKNOWN";
  if (UPGRADABLE.has(status)) {
    if (parameterOf(stack, "ImageId") === undefined) {
      throw new UsageError(
        `cluster ${ref.stack_name} has no ImageId parameter (a template of your own?): it cannot be upgraded by this tool`,
      );
    }
    return;
  }
  if (status.endsWith("_IN_PROGRESS")) {
    throw new OperationError(
      `cluster ${ref.stack_name} is ${status}: CloudFormation takes one operation at a time; ` +
        `wait for it with: ${command("wait", ref)}, then upgrade`,
    );
  }
  throw new OperationError(
    `cluster ${ref.stack_name} is ${status} and cannot be upgraded; see why with: ${command("status", ref)}`,
  );
}

function planMessage(name: string, plan: RollPlan, needsUpdate: boolean, etcd: EtcdTarget): string {
  const count = plan.controllers.length + plan.workers.length;
  const etcdMove = etcd.moving ? ` and etcd ${etcd.from} → ${etcd.to}` : "";
  const update = needsUpdate ? `update stack ${name} to image ${plan.target_image}${etcdMove}, then ` : "";
  const strategy =
    plan.worker_strategy.kind === "surge"
      ? "one extra worker launched before each one goes"
      : `batches of ${plan.worker_strategy.batch}, keeping ${plan.worker_strategy.min_in_service} in service`;
  return count === 0 && !needsUpdate
    ? `dry run: ${name} already runs ${plan.target_image}${etcd.to ? ` and etcd ${etcd.to}` : ""} on every node; nothing would change`
    : `dry run: would ${update}replace ${plan.controllers.length} controllers one at a time and ` +
        `${plan.workers.length} workers (${strategy}); nothing was changed`;
}

function stillRunning(ref: ClusterRef, what: string): string {
  return (
    `The upgrade of ${shellQuote(ref.stack_name)} stopped waiting; ${what} goes on in AWS.\n` +
    `  to go on with it: ${command("wait", ref)}`
  );
}

/** The etcd side of an upgrade: the stack's EtcdVersion now, the target, and whether it moves. */
interface EtcdTarget {
  /** The stack's EtcdVersion (undefined: its template has none). */
  from?: string;
  /** The controllers' target: the version asked for, else the stack's own (instances must match). */
  to?: string;
  moving: boolean;
}

/**
 * The etcd target of an upgrade, after etcd's upgrade rules (etcdMoveProblem). The current version
 * is the stack's EtcdVersion parameter. A stack without one (made before it existed, or with the
 * version written into a gzipped cloud-config or a units file's own drop-in) cannot move etcd with
 * its template: refused, saying what to do, rather than rebuilding its template here (a template
 * of today's build may differ from the stack's in more than etcd, and UpdateStack would apply all
 * of it at once to a running cluster).
 */
async function etcdTarget(
  session: Session,
  stack: Stack,
  asked: string | undefined,
  ref: ClusterRef,
): Promise<EtcdTarget> {
  const from = parameterOf(stack, ETCD_VERSION_PARAMETER);
  if (asked === undefined) return { ...(from ? { from, to: from } : {}), moving: false };
  const discovery = parameterOf(stack, "DiscoveryURL") !== undefined;
  if (from === undefined) {
    // Where the version is for such a stack: written into the controllers' user data.
    const written = await writtenVersion(session, stack).catch(() => undefined);
    const runs = written ? ` (its controllers run etcd ${written}, written into their user data)` : "";
    const problem = written ? etcdMoveProblem(written, asked, discovery) : undefined;
    throw new UsageError([
      {
        argument: "etcd_version",
        message:
          `cluster ${ref.stack_name}'s template has no ${ETCD_VERSION_PARAMETER} parameter${runs}: it was made ` +
          "by a pandacluster before etcd could be upgraded, or with the version written in, so its etcd " +
          "version cannot change with its template. " +
          (problem
            ? `Nor may it move so: ${problem}`
            : "To move etcd, update the stack with a template built for the new version " +
              `(pandacluster build-template --etcd-version ${asked} with the cluster's channel, size and ` +
              `units; aws cloudformation update-stack --stack-name ${ref.stack_name} --template-body ` +
              "file://template.json with every parameter's previous value), then roll its controllers " +
              `with ${command("upgrade", ref)}`),
      },
    ]);
  }
  const problem = etcdMoveProblem(from, asked, discovery);
  if (problem) throw new UsageError([{ argument: "etcd_version", message: problem }]);
  return { from, to: asked, moving: compareVersions(from, asked) !== 0 };
}

/** The etcd version in the user data of the stack's controllers' launch template, if it says. */
async function writtenVersion(session: Session, stack: Stack): Promise<string | undefined> {
  const templates = await ownedResources(
    session.clients.cloudformation,
    stack.StackId ?? "",
    "AWS::EC2::LaunchTemplate",
  );
  const controllers = templates.find((t) => t.logical_id === CONTROLLER_LAUNCH_TEMPLATE);
  if (!controllers) return undefined;
  const data = await latestUserData(session.clients.ec2, controllers.physical_id);
  return data ? writtenEtcdVersion(data) : undefined;
}

/** With only --etcd-version the image stays: the stack's own ImageId. */
function currentImage(imageId: string | null, ref: ClusterRef): { image_id: string; name: null } {
  if (!imageId) {
    throw new UsageError(
      `cluster ${ref.stack_name}'s ImageId parameter is empty (its image comes from the template's map): ` +
        `give the image to keep with ${command("upgrade", ref)} --etcd-version … --image-id ami-…`,
    );
  }
  return { image_id: imageId, name: null };
}
