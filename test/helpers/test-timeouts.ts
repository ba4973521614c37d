/**
 * Preloaded by `npm test` (scripts/run-tests.mjs passes `--import` this module to node's test
 * runner, which hands it on to every test file's process): gives every test and hook that sets no
 * `timeout` of its own a default one, so that a hang fails the test that hangs (by name) instead of
 * stalling the run. Waits inside a test name what they wait for themselves (harness.ts `within`,
 * `eventually`): this is the backstop.
 *
 * Why not `--test-timeout`: up to Node 23 it bounds each test *file* as a whole (nodejs/node#57656,
 * fixed for Node 24 by nodejs/node#57672), so a value that fits our longest test would kill a file of
 * many tests. The node:test functions are wrapped here and node's builtin ESM exports synced to the
 * wrappers (module.syncBuiltinESMExports), so `import { it } from "node:test"` gets them.
 *
 * PANDACLUSTER_TEST_TIMEOUT_MS (default 300,000) bounds each test, each hook likewise: service
 * start-ups have 30 s each and retry on a port clash, runs against the paced emulator take a minute
 * on a loaded machine.
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

/** before/after/beforeEach/afterEach: (body, options?). */
function hookWithTimeout(original: Fn): Fn {
  return function (this: unknown, body: unknown, options?: object) {
    return original.call(this, body, { timeout: DEFAULT_TEST_TIMEOUT_MS, ...options });
  };
}

for (const name of ["it", "test"]) {
  const original = nodeTest[name];
  if (original) nodeTest[name] = testWithTimeout(original);
}
for (const name of ["before", "after", "beforeEach", "afterEach"]) {
  const original = nodeTest[name];
  if (original) nodeTest[name] = hookWithTimeout(original);
}
syncBuiltinESMExports();
