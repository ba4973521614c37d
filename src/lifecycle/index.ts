/**
 * The cluster lifecycle, as the CLI, the library API and the server use it. Functions take options
 * already validated against src/argument_definitions.cson (validateOptions).
 *
 *   create  = launch (checks, resolution, CreateStack) + finish (follow → nodes → customise → result)
 *   destroy   DNS names, then DeleteStack, followed to DELETE_COMPLETE
 *   upgrade   UpdateStack with a new image, then the instances replaced: controllers one at a time
 *   status, list, wait, and stackStatuses for a poller that watches many stacks
 */
export { StackExistsError } from "../aws/stacks.js";
export { create } from "./create.js";
export { destroy } from "./destroy.js";
export { TAG as STACK_TAGS } from "./facts.js";
export { finish } from "./finish.js";
export { identify, StackGoneError, type StackIdentity, StackReplacedError } from "./identity.js";
export { launch } from "./launch.js";
export { list } from "./list.js";
export { checkPublicName } from "./public_dns.js";
export { scale } from "./scale.js";
export { status } from "./status.js";
export { resolveRegion, stackStatuses } from "./statuses.js";
export { sync, syncInService } from "./sync.js";
export type * from "./types.js";
export { upgrade } from "./upgrade.js";
export { wait } from "./wait.js";
