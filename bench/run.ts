import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { basename } from "node:path";

/**
 * npm run bench [-- --quick] [-- --fleet] [-- NAME...]: each benchmark in its own process, one after
 * another. A benchmark is any bench/NAME.ts that is not a helper (see bench/README.md): adding one is
 * adding its file. --quick runs each at a small size and fails only when one does not complete (CI
 * runs it); --fleet adds the 200-create fleet of bench/replicas to a full run. A benchmark that has
 * not finished within its time limit is stopped and counts as failed.
 */
const helpers = new Set(["run", "measure"]);
const here = new URL(".", import.meta.url);
const all = readdirSync(here)
  .filter((f) => f.endsWith(".js") && !f.startsWith("_"))
  .map((f) => basename(f, ".js"))
  .filter((name) => !helpers.has(name))
  .sort();
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const named = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const unknown = named.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`bench: no benchmark named ${unknown.join(", ")}; there are: ${all.join(", ")}\n`);
  process.exit(2);
}
const quick = flags.includes("--quick");
const limitMs = (quick ? 5 : 15) * 60_000;
const results: [string, string][] = [];
for (const name of named.length > 0 ? named : all) {
  process.stdout.write(`\n== bench/${name}${quick ? " (quick)" : ""}\n`);
  const started = Date.now();
  const run = spawnSync(process.execPath, [new URL(`./${name}.js`, here).pathname, ...flags], {
    stdio: "inherit",
    timeout: limitMs,
    killSignal: "SIGKILL",
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const outcome =
    run.error || run.signal
      ? `did not complete (${run.signal ? `stopped after ${limitMs / 60_000} min` : run.error?.message})`
      : run.status === 0
        ? "ok"
        : `failed (exit ${run.status})`;
  results.push([name, `${outcome}, ${seconds} s`]);
}
process.stdout.write("\n");
for (const [name, outcome] of results) process.stdout.write(`bench/${name.padEnd(12)} ${outcome}\n`);
const failed = results.filter(([, outcome]) => !outcome.startsWith("ok")).length;
// Not "N passed, N failed": CI reads such a line as a test runner's count.
process.stdout.write(
  failed > 0
    ? `${failed} of ${results.length} benchmarks did not complete or missed a target\n`
    : `all ${results.length} benchmarks completed\n`,
);
process.exit(failed > 0 ? 1 : 0);
