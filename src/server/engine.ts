import { awsClients } from "../aws/clients.js";
import { type GroupState, groupsTagged } from "../aws/groups.js";
import { callerAccount } from "../aws/identity.js";
import type { Config } from "../config.js";
import type { StackIdentity } from "../lifecycle/identity.js";
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
} from "../lifecycle/types.js";
import type {
  BuildTemplateOptions,
  CreateOptions,
  DestroyOptions,
  ListOptions,
  ScaleOptions,
  StackOptions,
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

/** The library itself. */
export const libraryEngine: Engine = {
  create: lifecycle.create,
  launch: lifecycle.launch,
  finish: lifecycle.finish,
  destroy: lifecycle.destroy,
  status: lifecycle.status,
  list: lifecycle.list,
  wait: lifecycle.wait,
  scale: lifecycle.scale,
  syncInService: (credentials, options, inService) =>
    lifecycle.syncInService(credentials, options, inService),
  identify: lifecycle.identify,
  stackStatuses: lifecycle.stackStatuses,
  clusterGroups: (credentials, region, calls) =>
    groupsTagged(awsClients(credentials, { region }).autoscaling, lifecycle.STACK_TAGS.cluster, calls),
  resolveRegion: lifecycle.resolveRegion,
  accountId: (credentials, region) => callerAccount(credentials, { region }),
  build_template,
};
