import type { LoadedConfig } from "../config.js";
import type { OutputFormat } from "./output_format.js";

/** What a command handler gets besides its validated options: where to write, and how. */
export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** True when stderr is a terminal: spinners and in-place updates only then. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  /**
   * A document for scripts was asked for (--json, -o json|yaml or PANDACLUSTER_OUTPUT): the result goes
   * to stdout in `output`'s format, progress still to stderr.
   */
  json: boolean;
  /** The result's format: table (lines for people), json or yaml. */
  output: OutputFormat;
  /** Aborted on the first Ctrl-C (SIGINT); the handler then explains what still runs and exits 130. */
  signal: AbortSignal;
  /** What a second Ctrl-C prints before the process exits at once (what still runs in AWS). */
  interruptNote?: string;
  /** Reads ~/.pandacluster.cson (or PANDACLUSTER_CONFIG) on first use; warnings already printed. */
  config(): LoadedConfig;
}

/** A sub-command: validated options in, an exit code out. */
export type CommandHandler<O> = (options: O, context: CliContext) => Promise<number>;
