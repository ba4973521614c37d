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
import * as lifecycle from "./lifecycle/index.js";
import type { Hooks } from "./lifecycle/types.js";
import { type OptionsOf, validateOptions } from "./options.js";
import * as templates from "./template/write.js";

type Input<C extends CommandName> = Partial<Record<keyof OptionsOf[C], unknown>>;

function checked<C extends CommandName>(command: C, options: Input<C>): OptionsOf[C] {
  return validateOptions(command, options as Record<string, unknown>, "library");
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
  return lifecycle.destroy(credentials, checked("destroy", options), hooks);
}

/**
 * Changes a cluster's number of workers (UpdateStack), follows the update, waits for the instances
 * and brings the names in line; returns create's result. Asking for other controllers is a UsageError.
 */
export async function scale(credentials: Config | undefined, options: Input<"scale">, hooks?: Hooks) {
  return lifecycle.scale(credentials, checked("scale", options), hooks);
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
  return lifecycle.sync(credentials, checked("sync", options), hooks);
}

export async function status(credentials: Config | undefined, options: Input<"status">) {
  return lifecycle.status(credentials, checked("status", options));
}

export async function list(credentials: Config | undefined, options: Input<"list"> = {}) {
  return lifecycle.list(credentials, checked("list", options));
}

/** Re-attaches to a create or destroy in progress and finishes its remaining steps. */
export async function wait(credentials: Config | undefined, options: Input<"wait">, hooks?: Hooks) {
  return lifecycle.wait(credentials, checked("wait", options), hooks);
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
