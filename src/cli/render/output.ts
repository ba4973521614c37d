import { createRequire } from "node:module";
import type { CliContext } from "../context.js";

/** The result for scripts: one JSON document on stdout. */
export function printJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The result for scripts in the format asked for (--output json|yaml): one document on stdout. YAML is
 * written by the `yaml` package from the very value JSON would show, so parsing it back gives the same
 * data (YAML 1.2's core schema: a string that reads as a number, a boolean or null is quoted).
 */
export function printResult(context: CliContext, value: unknown): void {
  if (context.output !== "yaml") {
    printJson(context, value);
    return;
  }
  // JSON's own conversion first (toJSON, undefined dropped), so both formats show the same document.
  const plain: unknown = JSON.parse(JSON.stringify(value));
  context.stdout.write(yaml().stringify(plain, { lineWidth: 0 }));
}

// Loaded on first use with require() (the package ships CommonJS too): only -o yaml pays for it, and the
// result functions stay synchronous.
let loaded: typeof import("yaml") | undefined;
function yaml(): typeof import("yaml") {
  loaded ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return loaded;
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
