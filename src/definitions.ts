import { readCsonFile } from "./cson.js";
import { packagePath } from "./paths.js";

/** The sub-commands that src/argument_definitions.cson defines. */
export const commandNames = [
  "build_template",
  "create",
  "destroy",
  "scale",
  "upgrade",
  "sync",
  "status",
  "wait",
  "list",
  "serve",
] as const;
export type CommandName = (typeof commandNames)[number];

export type ArgumentType = "string" | "integer" | "boolean" | "object" | "cidr" | "url";

/** One argument of one command, with the command's overrides applied. */
export interface ArgumentSpec {
  name: string;
  /** --name-with-hyphens */
  long: string;
  /** -x, when the argument has one */
  flag?: string;
  type: ArgumentType;
  required: boolean;
  allowed_values?: string[];
  refused_values?: Record<string, string>;
  min?: number;
  max?: number;
  /** Why the integer must be within min/max. */
  range_reason?: string;
  /** The integer must be odd: why. */
  odd_reason?: string;
  pattern?: string;
  pattern_hint?: string;
  max_length?: number;
  default?: string | number | boolean;
  default_on_cli_only?: boolean;
  default_when?: { when: Record<string, string>; value: string | number | boolean }[];
  description: string;
  cli_only: boolean;
  http_refused?: string;
}

export interface CommandSpec {
  name: CommandName;
  summary: string;
  arguments: ArgumentSpec[];
}

type RawArgument = Partial<Omit<ArgumentSpec, "name" | "long">> & { name?: string };
interface RawDefinitions {
  arguments: Record<string, RawArgument>;
  commands: Record<string, { summary: string; arguments: (string | RawArgument)[] }>;
}

let cached: Map<CommandName, CommandSpec> | undefined;

/** Reads the definitions file once per process. */
export function definitions(): Map<CommandName, CommandSpec> {
  if (!cached) {
    const path = packagePath("src", "argument_definitions.cson");
    cached = compile(readCsonFile(path, { publicText: true }) as RawDefinitions, path);
  }
  return cached;
}

export function commandSpec(name: CommandName): CommandSpec {
  const spec = definitions().get(name);
  if (!spec) throw new Error(`no definitions for command ${name}`);
  return spec;
}

/** One argument of a command, as that command defines it. */
export function argumentSpec(command: CommandName, name: string): ArgumentSpec {
  const spec = commandSpec(command).arguments.find((a) => a.name === name);
  if (!spec) throw new Error(`internal: ${command} has no argument ${name}`);
  return spec;
}

export function isCommandName(name: string): name is CommandName {
  return (commandNames as readonly string[]).includes(name);
}

/** The flags a person types for an argument, as shown in messages: "--stack-name (-n)". */
export function flagLabel(spec: ArgumentSpec): string {
  return spec.flag ? `${spec.long} (${spec.flag})` : spec.long;
}

function compile(raw: RawDefinitions, path: string): Map<CommandName, CommandSpec> {
  const result = new Map<CommandName, CommandSpec>();
  for (const [command, body] of Object.entries(raw.commands)) {
    if (!isCommandName(command)) throw new Error(`${path}: unknown command ${command}`);
    const args = body.arguments.map((entry) => {
      const overrides: RawArgument = typeof entry === "string" ? { name: entry } : entry;
      const name = overrides.name ?? "";
      const base = raw.arguments[name];
      if (!base) throw new Error(`${path}: command ${command} names undefined argument ${name}`);
      const merged = { ...base, ...overrides };
      return {
        ...merged,
        name,
        long: `--${name.replaceAll("_", "-")}`,
        type: merged.type ?? "string",
        required: merged.required ?? false,
        description: merged.description ?? "",
        cli_only: merged.cli_only ?? false,
      } satisfies ArgumentSpec;
    });
    result.set(command, { name: command, summary: body.summary, arguments: args });
  }
  return result;
}
