/** Exit codes shared by every face: the CLI exits with them, the server maps them to HTTP statuses. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
} as const;

export class PandaError extends Error {
  readonly exitCode: number = ExitCode.failed;
}

/** One thing wrong with the input: the argument (or file) it concerns and what is wrong with it. */
export interface Problem {
  argument: string;
  message: string;
}

/** Bad input: a flag, a file or a request field. Nothing was done. */
export class UsageError extends PandaError {
  override readonly exitCode: number = ExitCode.usage;
  readonly problems: Problem[];
  /** The sub-command whose help should follow the message, when known. */
  readonly command: string | undefined;

  constructor(problems: Problem[] | string, command?: string) {
    const list = typeof problems === "string" ? [{ argument: "", message: problems }] : problems;
    super(list.map(formatProblem).join("\n"));
    this.name = "UsageError";
    this.problems = list;
    this.command = command;
  }
}

export function formatProblem(problem: Problem): string {
  return problem.argument ? `${problem.argument}: ${problem.message}` : problem.message;
}

/** An operation was attempted and failed (AWS refused, a stack failed, a service was down). */
export class OperationError extends PandaError {
  override readonly exitCode: number = ExitCode.failed;
  readonly reasons: string[];
  /** `cause`: the error it was made from (an SDK error), so that callers can tell a transient one. */
  constructor(message: string, reasons: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OperationError";
    this.reasons = reasons;
  }
}

/** The user interrupted a wait (Ctrl-C); the message says what still runs and how to resume. */
export class InterruptedError extends PandaError {
  override readonly exitCode: number = ExitCode.interrupted;
  constructor(message: string) {
    super(message);
    this.name = "InterruptedError";
  }
}
