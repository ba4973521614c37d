#!/usr/bin/env node
// `npm test`: runs the compiled test files, found by an explicit pattern, with node's test runner.
//
// Why a script: `node --test dist/test/` is not a pattern. On Node 20 it runs every .js file under
// the folder, so the helper modules (services.js, e2e.js, …) are run as test files too, each counted
// as a passing test that tests nothing; on Node 21+ a folder argument is not searched at all (the run
// fails to start), and Node 20 takes no glob. So the files are listed here, from the sources: every
// `test/**/*.test.ts` that exists (a stale .js left in dist/ by a removed test is not run), as its
// compiled `dist/test/**/*.test.js`.
//
//   node scripts/run-tests.mjs                 every test file
//   node scripts/run-tests.mjs FILE…           these compiled test files only
//   node scripts/run-tests.mjs --list          print the files it would run, one a line
//
// Every run preloads dist/test/helpers/test-timeouts.js (a default timeout for every test and hook,
// so that a hang fails the test that hangs) and uses --test-force-exit (a handle a failed test left
// open cannot keep the run from ending). PANDACLUSTER_TEST_CONCURRENCY: files run at once (default 2).
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// test/**/*.test.ts, sorted, as dist/test/**/*.test.js paths relative to the repository.
function testFiles() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "fixtures") walk(path);
      } else if (entry.isFile() && entry.name.endsWith(".test.ts")) {
        found.push(join("dist", relative(root, path)).replace(/\.ts$/, ".js").split(sep).join("/"));
      }
    }
  };
  walk(join(root, "test"));
  return found.sort();
}

const args = process.argv.slice(2);
const files = args.filter((arg) => arg !== "--list");
const chosen = files.length > 0 ? files : testFiles();
if (args.includes("--list")) {
  process.stdout.write(`${chosen.join("\n")}\n`);
  process.exit(0);
}
const missing = chosen.filter((file) => !existsSync(resolve(root, file)));
if (missing.length > 0) {
  process.stderr.write(`not built (run npm run build): ${missing.join(", ")}\n`);
  process.exit(2);
}
const child = spawn(
  process.execPath,
  [
    "--test",
    `--test-concurrency=${process.env.PANDACLUSTER_TEST_CONCURRENCY || "2"}`,
    "--test-force-exit",
    "--import",
    "./dist/test/helpers/test-timeouts.js",
    ...chosen,
  ],
  { cwd: root, stdio: "inherit" },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
