import type { LoadedConfig } from "../config.js";

/** What a command handler gets besides its validated options: where to write, and how. */
export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** True when stderr is a terminal: spinners and in-place updates only then. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** --json was given: the result goes to stdout as JSON, progress still to stderr. */
  json: boolean;
  /** Aborted on the first Ctrl-C (SIGINT); the handler then explains what still runs and exits 130. */
  signal: AbortSignal;
  /** What a second Ctrl-C prints before the process exits at once (what still runs in AWS). */
  interruptNote?: string;
  /** Reads ~/.pandacluster.cson (or PANDACLUSTER_CONFIG) on first use; warnings already printed. */
  config(): LoadedConfig;
}

/** A sub-command: validated options in, an exit code out. */
export type CommandHandler<O> = (options: O, context: CliContext) => Promise<number>;
