import { printable, UsageError } from "./errors.js";

/**
 * Numeric environment variables, each with its bounds. A value out of range is refused (exit 2)
 * naming the variable and the range, never passed on: Node turns a timer delay above 2^31 - 1 ms
 * (about 24.8 days) into 1 ms, so PANDACLUSTER_RECONCILE_MS=99999999999 was a busy loop, and 0 or a
 * negative interval is the same loop.
 */
export interface Bounds {
  min: number;
  max: number;
  /** What the number counts, for the message ("ms", "jobs"). */
  unit: string;
}

export const envBounds = {
  PANDACLUSTER_POLL_MS: { min: 10, max: 600_000, unit: "ms" },
  PANDACLUSTER_LEASE_MS: { min: 500, max: 3_600_000, unit: "ms" },
  PANDACLUSTER_RETRY_MS: { min: 10, max: 600_000, unit: "ms" },
  PANDACLUSTER_RECONCILE_MS: { min: 100, max: 86_400_000, unit: "ms" },
  PANDACLUSTER_IMAGE_CHECK_MS: { min: 100, max: 604_800_000, unit: "ms" },
  PANDACLUSTER_JOB_CONCURRENCY: { min: 1, max: 256, unit: "jobs" },
  PANDACLUSTER_REMOTE_POLL_MS: { min: 10, max: 600_000, unit: "ms" },
} as const satisfies Record<string, Bounds>;

export type NumericEnv = keyof typeof envBounds;

/** The variable's whole number, undefined when unset or empty; UsageError when not within its bounds. */
export function envInt(env: NodeJS.ProcessEnv, name: NumericEnv): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const { min, max, unit } = envBounds[name];
  const value = /^\s*\d{1,16}\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
    throw new UsageError(
      `${name} must be a whole number from ${min} to ${max} (${unit}); got ${JSON.stringify(printable(shown))}`,
    );
  }
  return value;
}
