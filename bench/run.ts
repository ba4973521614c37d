import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** npm run bench: each benchmark in its own process, one after another, all printing ratios. */
// Flags (--quick) go to every benchmark; other arguments name the benchmarks to run.
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const named = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const benches =
  named.length > 0 ? named : ["cli", "lifecycle", "server", "replicas", "workers", "ui", "etcd"];
let failed = false;
for (const name of benches) {
  const file = new URL(`./${name}.js`, import.meta.url);
  if (!existsSync(file)) continue;
  process.stdout.write(`\n== bench/${name}\n`);
  const run = spawnSync(process.execPath, [file.pathname, ...flags], { stdio: "inherit" });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
