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
}
