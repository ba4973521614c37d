import type { ArgumentSpec, CommandSpec } from "../definitions.js";
import { type Problem, UsageError } from "../errors.js";

/**
 * Turns a command's argv into raw option values, driven by the definitions: each argument answers to
 * its short flag and its long flag (also as --long=value). Values stay strings here; validateOptions
 * checks and converts them, with the same messages the library and the server give.
 */
export function parseArgv(spec: CommandSpec, argv: string[]): Record<string, unknown> {
  const byFlag = new Map<string, ArgumentSpec>();
  for (const arg of spec.arguments) {
    byFlag.set(arg.long, arg);
    if (arg.flag) byFlag.set(arg.flag, arg);
  }
  const raw: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (!token.startsWith("-") || token === "-") {
      problems.push({ argument: token, message: "unexpected argument (every value follows its flag)" });
      continue;
    }
    const eq = token.startsWith("--") ? token.indexOf("=") : -1;
    const flag = eq > 0 ? token.slice(0, eq) : token;
    const arg = byFlag.get(flag);
    if (!arg) {
      problems.push({ argument: flag, message: `unrecognised flag for ${spec.name.replace("_", "-")}` });
      continue;
    }
    const label = arg.flag ? `${arg.long} (${arg.flag})` : arg.long;
    if (raw[arg.name] !== undefined) {
      problems.push({ argument: label, message: "given more than once" });
      // Its value is part of the mistake, not a stray argument of its own.
      if (arg.type !== "boolean" && eq < 0) i++;
      continue;
    }
    if (arg.type === "boolean") {
      if (eq > 0) problems.push({ argument: label, message: "takes no value" });
      else raw[arg.name] = true;
      continue;
    }
    if (eq > 0) {
      raw[arg.name] = token.slice(eq + 1);
      continue;
    }
    const next = argv[i + 1];
    // A following flag is not a value, but "-" (stdout) and negative numbers are.
    if (next === undefined || (next.startsWith("-") && next !== "-" && !/^-\d/.test(next))) {
      problems.push({ argument: label, message: "needs a value" });
      continue;
    }
    raw[arg.name] = next;
    i++;
  }
  if (problems.length > 0) throw new UsageError(problems, spec.name);
  return raw;
}
