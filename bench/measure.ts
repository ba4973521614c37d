import { spawnSync } from "node:child_process";

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Wall time in milliseconds of one run of a command; fails loudly if the command does not exit with
 * `status` (0 unless a refusal is what is timed).
 */
export function timeCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  status = 0,
): number {
  const start = process.hrtime.bigint();
  const run = spawnSync(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (run.status !== status)
    throw new Error(`${command} ${args.join(" ")} exited ${run.status}: ${run.stderr}`);
  return ms;
}

/**
 * Times several commands interleaved (a, b, c, a, b, c, ...) so that a slow moment of the machine
 * hits all of them alike, and returns each one's median.
 */
export function interleavedMedians(
  cases: Record<string, () => number>,
  rounds: number,
  warmup = 2,
): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const ms = run();
      if (round >= warmup) samples[name]?.push(ms);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export function ratioLine(label: string, ms: number, baselineMs: number, target?: number): string {
  const ratio = ms / baselineMs;
  const verdict =
    target === undefined
      ? ""
      : ratio <= target
        ? `  (target <= ${target}x: met)`
        : `  (target <= ${target}x: MISSED)`;
  return `${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${ratio.toFixed(2)}x${verdict}`;
}

/**
 * `--quick` (npm run bench -- --quick, as CI runs it): every benchmark end to end at a small size, to
 * prove it still completes. No timing is judged then: a quick run's figures mean nothing.
 */
export const quick: boolean = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
// A benchmark's own child processes (its servers) are quick too.
if (quick) process.env.BENCH_QUICK = "1";

/** --fleet: the 200-create fleet of bench/replicas (a full run creates fewer without it). */
export const fleet: boolean = process.argv.includes("--fleet");

/** A size: the full one, or the small one in a quick run. An environment variable overrides both. */
export function sized(full: number, small: number, variable?: string): number {
  const given = variable ? Number(process.env[variable]) : Number.NaN;
  if (Number.isFinite(given) && given > 0) return given;
  return quick ? small : full;
}

/**
 * The exit code of a benchmark that completed: at full size, whether its targets were met (a missed
 * target is a failure to look at); in a quick run 0, since only completing is checked.
 */
export function verdict(targetsMet: boolean): number {
  return quick || targetsMet ? 0 : 1;
}
