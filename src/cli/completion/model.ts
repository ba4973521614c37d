import { type ArgumentSpec, type CommandName, commandNames, commandSpec } from "../../definitions.js";

/** What a flag's value completes to. */
export type ValueKind = "none" | "choice" | "file" | "cluster" | "free";

export interface FlagModel {
  long: string;
  short?: string;
  description: string;
  value: ValueKind;
  /** For "choice": the values offered. */
  choices?: string[];
}

export interface CommandModel {
  /** As typed: build-template. */
  name: string;
  summary: string;
  flags: FlagModel[];
}

/** Everything a completion script needs, derived from the argument definitions. */
export interface CompletionModel {
  commands: CommandModel[];
  /** The shells `pandacluster completion` writes for. */
  shells: string[];
}

export const SHELLS = ["bash", "zsh", "fish"];

/** Commands that act on an existing cluster: their -n completes from the cached list. */
const onExisting = new Set<CommandName>(["destroy", "scale", "sync", "status", "wait"]);

/**
 * The model: every command of the definitions with its flags, each flag's values: the allowed values
 * (channels, archs, provisioning modes, formats…), the SDK's regions for --region, file names for
 * arguments that name a file, cluster names for -n of a command on an existing cluster.
 */
export function completionModel(regions: string[]): CompletionModel {
  const commands = commandNames.map((command) => {
    const spec = commandSpec(command);
    const flags = spec.arguments.map((arg) => flagModel(command, arg, regions));
    flags.push({ long: "--help", short: "-h", description: "print this command's help", value: "none" });
    return { name: command.replaceAll("_", "-"), summary: spec.summary, flags };
  });
  return { commands, shells: SHELLS };
}

function flagModel(command: CommandName, arg: ArgumentSpec, regions: string[]): FlagModel {
  const base = { long: arg.long, description: arg.description, ...(arg.flag ? { short: arg.flag } : {}) };
  if (arg.type === "boolean") return { ...base, value: "none" };
  if (arg.allowed_values) return { ...base, value: "choice", choices: arg.allowed_values };
  if (arg.name === "region") return { ...base, value: "choice", choices: regions };
  // A CSON file (units), a path to write or read (write_path, template_path), a SQLite file (db).
  if (arg.type === "object" || arg.name.endsWith("_path") || arg.name === "db")
    return { ...base, value: "file" };
  if (arg.name === "stack_name" && onExisting.has(command)) return { ...base, value: "cluster" };
  return { ...base, value: "free" };
}

/** The region pattern of the definitions, to keep the SDK's region names only (not aws-global). */
export function regionPattern(): RegExp {
  const region = commandSpec("list").arguments.find((a) => a.name === "region");
  return new RegExp(region?.pattern ?? "^[a-z]{2}(-[a-z]+)+-\\d+$");
}
