import { ExitCode } from "../../errors.js";
import type { ServeOptions } from "../../options.js";
import type { CommandHandler } from "../context.js";

/** `pandacluster serve`: runs the HTTP API server until SIGTERM or Ctrl-C. */
export const run: CommandHandler<ServeOptions> = async (options, context) => {
  const { startServer } = await import("../../server/start.js");
  const running = await startServer({
    ...options,
    env: context.env,
    config: context.config().config,
    stderr: context.stderr,
    signal: context.signal,
  });
  await running.closed;
  return ExitCode.ok;
};
