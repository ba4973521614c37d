import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** bin/pandacluster, from dist/test/helpers/ where this module runs. */
export const binPath = fileURLToPath(new URL("../../../bin/pandacluster", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Send this signal once stderr contains the text (e.g. SIGINT once progress shows). */
  signalWhen?: { text: string; signal: NodeJS.Signals };
  timeoutMs?: number;
}

/**
 * Runs the real CLI as a user would, in a child process. The environment is the caller's only:
 * HOME defaults to a place that holds no configuration (so no ~/.pandacluster.cson is read).
 */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: "/nonexistent",
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env, cwd: options.cwd ?? repoRoot });
    let stdout = "";
    let stderr = "";
    let signalled = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.signalWhen && !signalled && stderr.includes(options.signalWhen.text)) {
        signalled = true;
        child.kill(options.signalWhen.signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
