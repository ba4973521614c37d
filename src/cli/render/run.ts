import type { CliContext } from "../context.js";
import { printResult } from "./output.js";
import { type Progress, progressPrinter } from "./progress.js";

/**
 * What every lifecycle command does around the library call: progress on stderr while it runs,
 * the spinner gone before anything else is printed, errors left to the CLI's reporter (which maps
 * them to exit codes 1, 2 or 130) — with --json or -o json|yaml after an error document on stdout,
 * so that a script always gets a document in the format it asked for.
 */
export async function withProgress<T>(
  context: CliContext,
  work: (progress: Progress) => Promise<T>,
): Promise<T> {
  // The SDK's notice about future Node versions is for developers, not for the CLI's users.
  context.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const progress = progressPrinter(context.stderr, context.isTTY);
  try {
    return await work(progress);
  } catch (error) {
    progress.stop();
    if (context.json) {
      const e = error as { name?: string; message?: string; reasons?: string[]; exitCode?: number };
      printResult(context, {
        status: "failure",
        error: {
          type: e.name ?? "Error",
          message: e.message ?? String(error),
          reasons: e.reasons ?? [],
          exit_code: e.exitCode ?? 1,
        },
      });
    }
    throw error;
  } finally {
    progress.stop();
  }
}

/**
 * The hooks of a command that leaves work running in AWS when stopped: progress, Ctrl-C, and what to
 * say if a second Ctrl-C ends the process at once (create, upgrade).
 */
export function interruptibleHooks(context: CliContext, progress: Progress) {
  return {
    onEvent: progress.onEvent,
    signal: context.signal,
    onInterruptNote: (note: string) => {
      context.interruptNote = note;
    },
  };
}
