import type { Accounts } from "../accounts.js";
import type { Engine } from "../engine.js";
import type { JobRunner } from "../jobs/runner.js";
import type { Store } from "../store/types.js";

/** What the routes work with. */
export interface ServerParts {
  store: Store;
  engine: Engine;
  accounts: Accounts;
  runner: JobRunner;
  version: string;
  /**
   * etcd discovery services the server may be asked to call (it fetches {service}/new and shows
   * what a failing one answered, so an arbitrary URL would let a caller make the server fetch
   * internal addresses): the public service, the server's config's, and PANDACLUSTER_DISCOVERY_SERVICES.
   */
  discoveryServices: Set<string>;
  /** How long GET /clusters/{name}?live=true waits for AWS before answering with the stored state (ms). */
  liveTimeoutMs?: number;
}
