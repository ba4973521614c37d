import type { Config } from "../config.js";
import type { ClusterResult, Hooks } from "../lifecycle/types.js";
import type {
  BuildTemplateOptions,
  CreateOptions,
  DestroyOptions,
  ListOptions,
  StackOptions,
} from "../options.js";
import type { BuildTemplateResult } from "../template/write.js";

/** A stack's state as one batched DescribeStacks call sees it. */
export interface StackState {
  stack_id: string;
  stack_name: string;
  status: string;
  reason?: string;
}

/** What launch() answers once CreateStack has: enough to follow the stack from then on. */
export interface LaunchedStack {
  stack_id: string;
  stack_name: string;
  region: string;
  [key: string]: unknown;
}

/** A destroy's result, as far as the server reads it. */
export interface DestroyOutcome {
  status?: string;
  message?: string;
  reasons?: string[];
  [key: string]: unknown;
}

/**
 * The library operations the server runs: the lifecycle's flows and build_template. The server
 * takes them as one object so that tests of the server's own machinery (jobs, poller, restarts)
 * can count or slow calls; the shipped server uses the library itself (defaultEngine).
 */
export interface Engine {
  create(credentials: Config | undefined, options: CreateOptions, hooks?: Hooks): Promise<unknown>;
  launch(credentials: Config | undefined, options: CreateOptions, hooks?: Hooks): Promise<LaunchedStack>;
  finish(
    credentials: Config | undefined,
    ref: { stack_name: string; region?: string; stack_id?: string; profile?: string },
    hooks?: Hooks & { timeout_minutes?: number },
  ): Promise<ClusterResult>;
  destroy(credentials: Config | undefined, options: DestroyOptions, hooks?: Hooks): Promise<DestroyOutcome>;
  status(credentials: Config | undefined, options: StackOptions): Promise<unknown>;
  list(credentials: Config | undefined, options: ListOptions): Promise<unknown>;
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
  build_template(
    options: BuildTemplateOptions,
    credentials?: Config,
    hooks?: { notice?: (line: string) => void },
  ): Promise<BuildTemplateResult>;
}

// TODO(server): a static import once src/lifecycle/index.ts has landed.
const lifecycleModule = "../lifecycle/index.js";

/** The library itself, loaded on first use. */
export async function defaultEngine(): Promise<Engine> {
  const [lifecycle, template] = await Promise.all([
    import(lifecycleModule) as Promise<Omit<Engine, "build_template">>,
    import("../template/write.js"),
  ]);
  return {
    create: lifecycle.create,
    launch: lifecycle.launch,
    finish: lifecycle.finish,
    destroy: lifecycle.destroy,
    status: lifecycle.status,
    list: lifecycle.list,
    wait: lifecycle.wait,
    stackStatuses: lifecycle.stackStatuses,
    resolveRegion: lifecycle.resolveRegion,
    build_template: template.build_template,
  };
}
