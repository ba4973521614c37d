import { awsClients } from "../aws/clients.js";
import { type GroupState, groupsTagged } from "../aws/groups.js";
import { callerAccount } from "../aws/identity.js";
import type { Config } from "../config.js";
import type { StackIdentity } from "../lifecycle/identity.js";
import { type ImageAdvice, type ImageAdviceInput, imageAdvice } from "../lifecycle/image_age.js";
import * as lifecycle from "../lifecycle/index.js";
import type {
  ClusterResult,
  DestroyResult,
  Hooks,
  Launched,
  ListResult,
  StackRef,
  StackStatusEntry,
  StatusResult,
  SyncResult,
  UpgradeResult,
} from "../lifecycle/types.js";
import type {
  BuildTemplateOptions,
  CreateOptions,
  DestroyOptions,
  ListOptions,
  ScaleOptions,
  StackOptions,
  UpgradeOptions,
} from "../options.js";
import { type BuildTemplateResult, build_template } from "../template/write.js";

/** A stack's state as one batched DescribeStacks call sees it. */
export type StackState = StackStatusEntry;

/**
 * The library operations the server runs: the lifecycle's flows and build_template. The server
 * takes them as one object so that tests of the server's own machinery (jobs, poller, restarts)
 * can count or slow calls; the shipped server uses the library itself (libraryEngine).
 */
export interface Engine {
  create(credentials: Config | undefined, options: CreateOptions, hooks?: Hooks): Promise<ClusterResult>;
  launch(
    credentials: Config | undefined,
    options: CreateOptions,
    hooks?: Hooks,
  ): Promise<Pick<Launched, "stack_id" | "stack_name" | "region">>;
  finish(
    credentials: Config | undefined,
    ref: StackRef,
    hooks?: Hooks & { timeout_minutes?: number },
  ): Promise<ClusterResult>;
  destroy(
    credentials: Config | undefined,
    options: DestroyOptions,
    hooks?: Hooks,
  ): Promise<Partial<DestroyResult>>;
  status(
    credentials: Config | undefined,
    options: StackOptions,
  ): Promise<StatusResult | Record<string, unknown>>;
  list(credentials: Config | undefined, options: ListOptions): Promise<ListResult | Record<string, unknown>>;
  wait(credentials: Config | undefined, options: StackOptions, hooks?: Hooks): Promise<unknown>;
  /** Changes the number of workers (UpdateStack) and follows it (jobs/scale.ts). */
  scale?(credentials: Config | undefined, options: ScaleOptions, hooks?: Hooks): Promise<ClusterResult>;
  /** Moves the cluster to a new image, instance by instance (jobs/scale.ts runs it as an upgrade job). */
  upgrade?(credentials: Config | undefined, options: UpgradeOptions, hooks?: Hooks): Promise<UpgradeResult>;
  /**
   * How current each cluster's image is (the advice `status` and `list` show): one DescribeImages
   * by id and one newest-image lookup per channel and arch (the reconciler's image warning).
   */
  imageAdvice?(
    credentials: Config | undefined,
    region: string,
    clusters: ImageAdviceInput[],
  ): Promise<(ImageAdvice | null)[]>;
  /** Brings a cluster's names in line with its instances in service now (POST /clusters/{name}/sync). */
  sync?(credentials: Config | undefined, options: StackOptions, hooks?: Hooks): Promise<SyncResult>;
  /** Fixes a cluster's names for the InService instances the reconciler read in bulk (jobs/reconcile.ts). */
  syncInService?(
    credentials: Config | undefined,
    options: { stack_name: string; region: string; stack_id?: string },
    inService: { controllers: string[]; workers: string[] },
  ): Promise<SyncResult>;
  /**
   * The cluster's own stack by the StackId its create returned, and the groups it owns (its
   * resources); or that it was deleted, or replaced by another stack of that name (never adopted).
   */
  identify?(
    credentials: Config | undefined,
    target: { stack_name: string; region: string; stack_id: string },
  ): Promise<StackIdentity>;
  /**
   * Up front, before a create is accepted: the public zone exists and <stack_name>.<domain> in it is
   * free (UsageError naming the owner only through hooks.owner_lookup).
   */
  checkPublicName?(
    credentials: Config | undefined,
    target: { stack_name: string; region: string; public_domain: string },
    hooks?: Hooks,
  ): Promise<void>;
  stackStatuses(
    credentials: Config | undefined,
    region: string,
    profile?: string,
  ): Promise<Map<string, StackState>>;
  /**
   * Every pandacluster Auto Scaling group of the region for these credentials' account: one
   * paginated DescribeAutoScalingGroups (`calls` counts its pages).
   */
  clusterGroups?(
    credentials: Config | undefined,
    region: string,
    calls?: { count: number },
  ): Promise<GroupState[]>;
  resolveRegion(
    credentials: Config | undefined,
    options: { region?: string; profile?: string },
  ): Promise<string>;
  /**
   * The id of the AWS account the credentials belong to (STS GetCallerIdentity, asked through that
   * region's endpoint); throws AccountLookupError (aws/identity.ts) when STS cannot say.
   */
  accountId(credentials: Config | undefined, region: string): Promise<string>;
  build_template(
    options: BuildTemplateOptions,
    credentials?: Config,
    hooks?: { notice?: (line: string) => void },
  ): Promise<BuildTemplateResult>;
}

/**
 * Whose a public DNS name is, for a server job: never said. Profiles may share an AWS account, so
 * what its credentials can see is not what the caller may know; the route that accepts a create
 * names the caller's own clusters (routes/clusters.ts) before any job runs.
 */
const unnamed = async () => undefined;

/** The library itself. */
export const libraryEngine: Engine = {
  create: (credentials, options, hooks) =>
    lifecycle.create(credentials, options, { owner_lookup: unnamed, ...hooks }),
  launch: (credentials, options, hooks) =>
    lifecycle.launch(credentials, options, { owner_lookup: unnamed, ...hooks }),
  finish: (credentials, ref, hooks) =>
    lifecycle.finish(credentials, ref, { owner_lookup: unnamed, ...hooks }),
  checkPublicName: lifecycle.checkPublicName,
  destroy: (credentials, options, hooks) =>
    lifecycle.destroy(credentials, options, { owner_lookup: unnamed, ...hooks }),
  status: lifecycle.status,
  list: lifecycle.list,
  wait: lifecycle.wait,
  scale: (credentials, options, hooks) =>
    lifecycle.scale(credentials, options, { owner_lookup: unnamed, ...hooks }),
  upgrade: (credentials, options, hooks) =>
    lifecycle.upgrade(credentials, options, { owner_lookup: unnamed, ...hooks }),
  imageAdvice: (credentials, region, clusters) =>
    imageAdvice(awsClients(credentials, { region }).ec2, clusters),
  sync: (credentials, options, hooks) =>
    lifecycle.sync(credentials, options, { owner_lookup: unnamed, ...hooks }),
  syncInService: (credentials, options, inService) =>
    lifecycle.syncInService(credentials, options, inService, { owner_lookup: unnamed }),
  identify: lifecycle.identify,
  stackStatuses: lifecycle.stackStatuses,
  clusterGroups: (credentials, region, calls) =>
    groupsTagged(awsClients(credentials, { region }).autoscaling, lifecycle.STACK_TAGS.cluster, calls),
  resolveRegion: lifecycle.resolveRegion,
  accountId: (credentials, region) => callerAccount(credentials, { region }),
  build_template,
};
