/**
 * Preloaded by `npm test` (scripts/run-tests.mjs passes `--import` this module to node's test
 * runner, which hands it on to every test file's process): gives every test that sets no `timeout`
 * of its own a default one, so that a hang fails the test that hangs (by name) instead of
 * stalling the run. Waits inside a test name what they wait for themselves (harness.ts `within`,
 * `eventually`): this is the backstop.
 *
 * Why not `--test-timeout`: up to Node 23 it bounds each test *file* as a whole (nodejs/node#57656,
 * fixed for Node 24 by nodejs/node#57672), so a value that fits our longest test would kill a file of
 * many tests. The node:test functions are wrapped here and node's builtin ESM exports synced to the
 * wrappers (module.syncBuiltinESMExports), so `import { it } from "node:test"` gets them.
 *
 * The cost: node takes a test's reported `location` from the caller of it(), which is now the
 * wrapper below; the test's name and its failure's stack still name the place. (A default on the
 * file's root test would not do: suites inherit it and are bounded by it as a whole.)
 *
 * Hooks are left alone: a file-level hook is reported under its location, which would then name
 * this module as if it were a test file. What hooks wait for has deadlines of its own (each service
 * start 120 s, harness serve() 120 s).
 *
 * PANDACLUSTER_TEST_TIMEOUT_MS (default 300,000) bounds each test: runs against the paced emulator
 * take a minute or two on a loaded machine.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: the test runner's functions are wrapped whatever their overloads
type Fn = (...args: any[]) => any;
const nodeTest = require("node:test") as Record<string, Fn>;

export const DEFAULT_TEST_TIMEOUT_MS = Number(process.env.PANDACLUSTER_TEST_TIMEOUT_MS) || 300_000;

/** it/test: (name?, options?, body?) — the options gain `timeout` unless they set one. */
function testWithTimeout(original: Fn): Fn {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    const name = typeof args[0] === "string" ? args.shift() : undefined;
    const given = args[0] !== null && typeof args[0] === "object" ? (args.shift() as object) : {};
    const options = { timeout: DEFAULT_TEST_TIMEOUT_MS, ...given };
    return original.call(this, name, options, ...args);
  };
  // it.skip, it.todo, it.only: unchanged.
  return Object.assign(wrapped, original);
}

for (const name of ["it", "test"]) {
  const original = nodeTest[name];
  if (original) nodeTest[name] = testWithTimeout(original);
}
syncBuiltinESMExports();
