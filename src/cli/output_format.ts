import { type CommandName, commandSpec } from "../definitions.js";
import { UsageError } from "../errors.js";

/** How a command prints its result: a table (for people) or a document (for scripts). */
export type OutputFormat = "table" | "json" | "yaml";

/** The environment variable that sets the default format, as AWS_DEFAULT_OUTPUT does for the AWS CLI. */
export const OUTPUT_ENV = "PANDACLUSTER_OUTPUT";

/**
 * The output format a command's validated options ask for: --output (-o), else --json, else
 * PANDACLUSTER_OUTPUT, else table. The allowed formats are those the argument definitions list.
 * --json is a synonym of --output json, so `--json -o yaml` contradicts itself and is refused; a bad
 * PANDACLUSTER_OUTPUT is bad input too (exit 2), named, rather than silently ignored.
 */
export function outputFormat(
  command: CommandName,
  options: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): OutputFormat {
  const spec = commandSpec(command).arguments.find((a) => a.name === "output");
  if (!spec) return options.json === true ? "json" : "table";
  const given = options.output as OutputFormat | undefined;
  if (options.json === true && given !== undefined && given !== "json") {
    throw new UsageError(
      [{ argument: "--json", message: `is the same as --output json, and --output ${given} was given too` }],
      command,
    );
  }
  if (given !== undefined) return given;
  if (options.json === true) return "json";
  const fromEnv = env[OUTPUT_ENV];
  if (fromEnv === undefined || fromEnv === "") return "table";
  const allowed = spec.allowed_values ?? [];
  if (!allowed.includes(fromEnv)) {
    throw new UsageError(
      [
        {
          argument: OUTPUT_ENV,
          message: `${JSON.stringify(fromEnv)} is not an output format; use one of ${allowed.join(", ")} (or unset it for table)`,
        },
      ],
      command,
    );
  }
  return fromEnv as OutputFormat;
}
