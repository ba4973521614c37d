import { type LoadedConfig, loadConfig } from "../config.js";
import { type CommandName, commandSpec } from "../definitions.js";
import { ExitCode, InterruptedError, OperationError, PandaError, UsageError } from "../errors.js";
import { validateOptions } from "../options.js";
import { parseArgv } from "./argv.js";
import type { CliContext, CommandHandler } from "./context.js";
import { helpPointer } from "./help.js";
import { outputFormat } from "./output_format.js";
import { directWriter } from "./stdio.js";

/** Commands that a pandacluster API server can run for the CLI (--server / PANDACLUSTER_SERVER). */
const remoteCommands = new Set<CommandName>([
  "create",
  "destroy",
  "scale",
  "upgrade",
  "sync",
  "status",
  "list",
  "wait",
]);

/** Parses and validates a command's flags, then hands the options to the command's handler. */
export async function runCommand(word: string, argv: string[]): Promise<number> {
  const command = word.replaceAll("-", "_") as CommandName;
  const controller = new AbortController();
  const context = cliContext(controller.signal);
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts += 1;
    // A second Ctrl-C means "now": the first one already asked the command to stop waiting. What
    // still runs in AWS is said all the same (a call that hangs may be what held the first one).
    if (interrupts > 1) {
      if (context.interruptNote) context.stderr.write(`\n${context.interruptNote}\n`);
      process.exit(ExitCode.interrupted);
    }
    controller.abort();
  };
  process.on("SIGINT", onInterrupt);
  try {
    const options = validateOptions(command, parseArgv(commandSpec(command), argv), "cli") as Record<
      string,
      unknown
    >;
    context.output = outputFormat(command, options, context.env);
    context.json = context.output !== "table";
    const server = (options.server as string | undefined) ?? context.env.PANDACLUSTER_SERVER;
    if (server && remoteCommands.has(command)) {
      const remote = await import("./remote/index.js");
      return await remote.runRemote(command, { ...options, server }, context);
    }
    const handler = (await handlers[command]()) as { run: CommandHandler<unknown> };
    return await handler.run(options, context);
  } catch (error) {
    return reportError(error, context, command);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

/**
 * Each command's handler, loaded when it runs: a command pays only for the modules it uses. Written
 * out (not computed from the name) so that the bundler sees every handler and keeps each one lazy.
 */
const handlers: Record<CommandName, () => Promise<unknown>> = {
  build_template: () => import("./commands/build_template.js"),
  create: () => import("./commands/create.js"),
  destroy: () => import("./commands/destroy.js"),
  scale: () => import("./commands/scale.js"),
  upgrade: () => import("./commands/upgrade.js"),
  sync: () => import("./commands/sync.js"),
  status: () => import("./commands/status.js"),
  wait: () => import("./commands/wait.js"),
  list: () => import("./commands/list.js"),
  serve: () => import("./commands/serve.js"),
};

function cliContext(signal: AbortSignal): CliContext {
  let loaded: LoadedConfig | undefined;
  // Lines go to descriptor 2 directly; process.stderr is made only for what needs it (stdio.ts).
  const stderr = directWriter(2, () => process.stderr);
  return {
    // Made on first use: a command that prints no result (build-template -p FILE) never makes it.
    get stdout() {
      return process.stdout;
    },
    stderr,
    get isTTY() {
      return Boolean(process.stderr.isTTY);
    },
    env: process.env,
    json: false,
    output: "table",
    signal,
    config() {
      if (!loaded) {
        loaded = loadConfig(process.env);
        for (const warning of loaded.warnings) stderr.write(`${warning}\n`);
      }
      return loaded;
    },
  };
}

/**
 * Turns any error into its message on stderr and the exit code that says what kind it was. Bad input
 * gets its messages and one line pointing at the command's help, not the help itself: the error must
 * stay on the screen.
 */
export function reportError(error: unknown, context: CliContext, command?: string): number {
  const out = context.stderr;
  if (error instanceof UsageError) {
    for (const line of error.message.split("\n")) out.write(`error: ${line}\n`);
    const about = error.command ?? command;
    if (about) out.write(`${helpPointer(about)}\n`);
    return ExitCode.usage;
  }
  if (error instanceof InterruptedError) {
    out.write(`\n${error.message}\n`);
    return ExitCode.interrupted;
  }
  if (error instanceof OperationError) {
    out.write(`error: ${error.message}\n`);
    for (const reason of error.reasons) out.write(`  - ${reason}\n`);
    return error.exitCode;
  }
  if (error instanceof PandaError) {
    out.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  out.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return ExitCode.failed;
}
