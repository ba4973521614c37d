/**
 * The pandacluster library: the same operations as the CLI, typed. Every function checks its
 * options against src/argument_definitions.cson first (the CLI's rules and messages, naming options
 * by their names) and throws UsageError on bad input before anything is done.
 *
 * `credentials` has the shape of ~/.pandacluster.cson: {aws: {id, secret, region}, public_keys,
 * discovery_service}; leave out aws to use the standard AWS credential chain.
 */
import type { Config } from "./config.js";
import type { CommandName } from "./definitions.js";
import { UsageError } from "./errors.js";
import * as lifecycle from "./lifecycle/index.js";
import type { Hooks } from "./lifecycle/types.js";
import { type OptionsOf, validateOptions } from "./options.js";
import * as templates from "./template/write.js";

type Input<C extends CommandName> = Partial<Record<keyof OptionsOf[C], unknown>>;

function checked<C extends CommandName>(command: C, options: Input<C>): OptionsOf[C] {
  return validateOptions(command, options as Record<string, unknown>, "library");
}

/** arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>, as CreateStack returns it. */
const STACK_ID =
  /^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][-A-Za-z0-9]{0,127}\/[-0-9a-f]{36}$/;

/**
 * The options, and the StackId a library caller kept from create's result (`stack_id`, not a CLI
 * argument): given, the flow acts on that stack only and refuses one merely of the same name.
 */
function pinned<C extends "destroy" | "scale" | "sync" | "status" | "wait">(
  command: C,
  options: Input<C>,
): OptionsOf[C] {
  const { stack_id, ...rest } = options as Input<C> & { stack_id?: unknown };
  const valid = checked(command, rest as Input<C>);
  if (stack_id === undefined || stack_id === null) return valid;
  if (typeof stack_id !== "string" || !STACK_ID.test(stack_id))
    throw new UsageError([
      {
        argument: "stack_id",
        message: `${JSON.stringify(stack_id)} is not a CloudFormation StackId (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>)`,
      },
    ]);
  return { ...valid, stack_id };
}

/** Builds the CloudFormation template; writes it when write_path is given, and returns it. */
export async function build_template(options: Input<"build_template"> = {}, credentials: Config = {}) {
  const { write_path, ...rest } = options;
  const valid = checked("build_template", write_path === false ? rest : options);
  return templates.build_template(valid, credentials);
}

/** Creates a cluster and returns the seed's success-or-failure result. */
export async function create(credentials: Config | undefined, options: Input<"create">, hooks?: Hooks) {
  return lifecycle.create(credentials, checked("create", options), hooks);
}

/** Deletes a cluster, its DNS names and its stack. */
export async function destroy(credentials: Config | undefined, options: Input<"destroy">, hooks?: Hooks) {
  return lifecycle.destroy(credentials, pinned("destroy", options), hooks);
}

/**
 * Changes a cluster's number of workers (UpdateStack), follows the update, waits for the instances
 * and brings the names in line; returns create's result. Asking for other controllers is a UsageError.
 */
export async function scale(credentials: Config | undefined, options: Input<"scale">, hooks?: Hooks) {
  return lifecycle.scale(credentials, pinned("scale", options), hooks);
}

/**
 * Moves a cluster to its channel's newest image (or image_id): UpdateStack, then the controllers
 * replaced one at a time and the workers in batches keeping min_healthy % in service. dry_run
 * returns the plan.
 */
export async function upgrade(credentials: Config | undefined, options: Input<"upgrade">, hooks?: Hooks) {
  return lifecycle.upgrade(credentials, checked("upgrade", options), hooks);
}

/** Brings a cluster's DNS names in line with the instances in service; says what it changed. */
export async function sync(credentials: Config | undefined, options: Input<"sync">, hooks?: Hooks) {
  return lifecycle.sync(credentials, pinned("sync", options), hooks);
}

export async function status(credentials: Config | undefined, options: Input<"status">) {
  return lifecycle.status(credentials, pinned("status", options));
}

export async function list(credentials: Config | undefined, options: Input<"list"> = {}) {
  return lifecycle.list(credentials, checked("list", options));
}

/** Re-attaches to a create or destroy in progress and finishes its remaining steps. */
export async function wait(credentials: Config | undefined, options: Input<"wait">, hooks?: Hooks) {
  return lifecycle.wait(credentials, pinned("wait", options), hooks);
}

export type { Config } from "./config.js";
export { ExitCode, InterruptedError, OperationError, PandaError, UsageError } from "./errors.js";
export type * from "./lifecycle/types.js";
export type {
  BuildTemplateOptions,
  CreateOptions,
  DestroyOptions,
  ListOptions,
  ScaleOptions,
  StackOptions,
  UpgradeOptions,
} from "./options.js";
