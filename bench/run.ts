import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** npm run bench: each benchmark in its own process, one after another, all printing ratios. */
const benches =
  process.argv.length > 2
    ? process.argv.slice(2)
    : ["cli", "lifecycle", "server", "replicas", "workers", "ui", "observability"];
let failed = false;
for (const name of benches) {
  const file = new URL(`./${name}.js`, import.meta.url);
  if (!existsSync(file)) continue;
  process.stdout.write(`\n== bench/${name}\n`);
  const run = spawnSync(process.execPath, [file.pathname], { stdio: "inherit" });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
