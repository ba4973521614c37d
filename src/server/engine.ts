import { callerAccount } from "../aws/identity.js";
import type { Config } from "../config.js";
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
} from "../lifecycle/types.js";
import type {
  BuildTemplateOptions,
  CreateOptions,
  DestroyOptions,
  ListOptions,
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
  stackStatuses(
    credentials: Config | undefined,
    region: string,
    profile?: string,
  ): Promise<Map<string, StackState>>;
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
  stackStatuses: lifecycle.stackStatuses,
  resolveRegion: lifecycle.resolveRegion,
  accountId: (credentials, region) => callerAccount(credentials, { region }),
  build_template,
};
