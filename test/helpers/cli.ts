import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** bin/pandacluster, from dist/test/helpers/ where this module runs. */
export const binPath = fileURLToPath(new URL("../../../bin/pandacluster", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

let home: string | undefined;

/**
 * An empty HOME of this test process's own (made on first use, removed when the process exits): no
 * ~/.pandacluster.cson in it, and what the CLI caches there (its CSON parse cache, its V8 code cache,
 * the cluster names of `list`) is not shared with another test file or another test run beside this
 * one. (It was /nonexistent, which root, as on these machines, creates and then shares with every run.)
 */
export function emptyHome(): string {
  if (home === undefined) {
    const made = mkdtempSync(join(tmpdir(), "pc-cli-home-"));
    home = made;
    process.on("exit", () => rmSync(made, { recursive: true, force: true }));
  }
  return home;
}

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
 * HOME defaults to emptyHome(): no configuration there (so no ~/.pandacluster.cson is read).
 */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: emptyHome(),
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
