import type { CliContext } from "../context.js";

/** The result for scripts: one JSON document on stdout. */
export function printJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Lines for people, on stdout. */
export function printLines(context: CliContext, lines: string[]): void {
  context.stdout.write(`${lines.join("\n")}\n`);
}

/** A failure for people goes to stderr, its reasons one per line. */
export function printFailure(context: CliContext, message: string, reasons: string[]): void {
  context.stderr.write(`error: ${message}\n`);
  for (const reason of reasons) context.stderr.write(`  - ${reason}\n`);
}
