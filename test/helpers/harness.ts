/**
 * The shared set-up of the tests, written once: the emulator with its Flatcar-like images, the etcd
 * discovery service and PostgreSQL (services.ts starts each), the AWS variables that point the SDK
 * at the emulator, the test key pair, `pandacluster serve` as a child process, the check that
 * nothing was created, and waits with deadlines that name what they wait for.
 *
 * The older helper modules keep their exports (services.ts, cli.ts, server/helpers.ts,
 * lifecycle/e2e.ts); what they had in several copies lives here and they re-export it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { after, before } from "node:test";
import { promisify } from "node:util";
import { CreateKeyPairCommand, EC2Client } from "@aws-sdk/client-ec2";
import { binPath, emptyHome, repoRoot } from "./cli.js";
import {
  awsEnv,
  type Discovery,
  flatcarAmisFixture,
  isolatedAwsProcessEnv,
  type Moto,
  type MotoOptions,
  type Postgres,
  startDiscovery,
  startMoto,
  startPostgres,
} from "./services.js";

// ---------------------------------------------------------------- waits with deadlines

/** Resolves as `work` does, or rejects after `ms` with "timed out after … waiting for <what>". */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls until check() returns a value (not undefined), or fails after timeoutMs naming `what`. The
 * default, 30 s, is for what happens as soon as the machine gets to it (a job of the fake engine, an
 * event on a stream): beside another test run on these 2 cores (load average 14), a test process
 * gets a seventh of a core, and 10 s was close. A deadline only costs time when the test fails.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// ---------------------------------------------------------------- AWS variables and key pair

/** Credentials-free SDK clients warn about Node 20's end of support; the tests need not read it. */
const QUIET = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

/**
 * Points this process's AWS SDK at `endpoint` (moto, or a proxy in front of it): every AWS_*
 * variable of the caller goes (a developer's profile or role must not leak in), awsEnv() comes in.
 * Returns a function that puts the environment back as it was.
 */
export function useAwsEnv(endpoint: string): () => void {
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
  Object.assign(process.env, awsEnv(endpoint), QUIET);
  return () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  };
}

/** EC2 CreateKeyPair in us-east-1 of the emulator at `endpoint`. */
export async function createKeyPair(endpoint: string, name: string): Promise<void> {
  const ec2 = new EC2Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  try {
    await ec2.send(new CreateKeyPairCommand({ KeyName: name }));
  } finally {
    ec2.destroy();
  }
}

// ---------------------------------------------------------------- the services of a test file

export interface AwsServicesOptions {
  /** startMoto's options; the default is moto with the fixes and the Flatcar-like image fixture. */
  moto?: MotoOptions;
  /** Start etcd + the discovery service too (default true). */
  discovery?: boolean;
  /** Start PostgreSQL too (default false). */
  postgres?: boolean;
  /** A key pair to create after every start and reset (default "k"; null: none). */
  keyPair?: string | null;
  /**
   * Point this process's AWS variables at moto (default true), or at what this function returns
   * given moto (a proxy in front of it, say); false leaves process.env alone.
   */
  processEnv?: boolean | ((moto: Moto) => Promise<string> | string);
}

export interface AwsServices {
  moto: Moto;
  /** Started unless `discovery: false` (then using it throws). */
  discovery: Discovery;
  /** Started with `postgres: true` (else using it throws). */
  postgres: Postgres;
  /** The endpoint this process's AWS variables point at (moto's, a proxy's, or "" if left alone). */
  endpoint: string;
  /** The AWS CLI against moto, as an independent client: its JSON answer. */
  aws<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** Forgets every resource in the emulator, then creates the key pair again. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

function missing(name: string): never {
  throw new Error(`the test asked for no ${name} (AwsServicesOptions)`);
}

/** Starts what `options` asks for, at once; see AwsServicesOptions for the defaults. */
export async function startAwsServices(options: AwsServicesOptions = {}): Promise<AwsServices> {
  const [moto, discovery, postgres] = await Promise.all([
    startMoto({ fixes: true, amisPath: flatcarAmisFixture(), ...options.moto }),
    options.discovery === false ? undefined : startDiscovery(),
    options.postgres ? startPostgres() : undefined,
  ]);
  const keyPair = options.keyPair === undefined ? "k" : options.keyPair;
  let endpoint = "";
  let restoreEnv = () => {};
  if (options.processEnv !== false) {
    endpoint = typeof options.processEnv === "function" ? await options.processEnv(moto) : moto.endpoint;
    restoreEnv = useAwsEnv(endpoint);
  }
  if (keyPair) await createKeyPair(moto.endpoint, keyPair);
  const run = promisify(execFile);
  return {
    moto,
    get discovery() {
      return discovery ?? missing("discovery service");
    },
    get postgres() {
      return postgres ?? missing("PostgreSQL");
    },
    endpoint,
    async aws<T>(args: string[]) {
      const { stdout } = await run("aws", [...args, "--output", "json"], {
        env: { ...isolatedAwsProcessEnv(moto.endpoint), HOME: emptyHome() },
      });
      return (stdout.trim() ? JSON.parse(stdout) : {}) as T;
    },
    async reset() {
      await moto.reset();
      if (keyPair) await createKeyPair(moto.endpoint, keyPair);
    },
    async stop() {
      restoreEnv();
      await Promise.all([moto.stop(), discovery?.stop(), postgres?.stop()]);
    },
  };
}

/**
 * startAwsServices() before the file's tests, stop() after them. The answer may be used once the
 * tests run (a property read before that throws).
 */
export function awsServicesPerFile(options: AwsServicesOptions = {}): AwsServices {
  let services: AwsServices | undefined;
  before(async () => {
    services = await startAwsServices(options);
  });
  after(async () => {
    await services?.stop();
  });
  const started = () => services ?? missing("services before the file's tests run");
  return new Proxy({} as AwsServices, {
    get: (_target, key: keyof AwsServices) => {
      const value = started()[key];
      return typeof value === "function" ? value.bind(started()) : value;
    },
  });
}

// ---------------------------------------------------------------- nothing created

/** Anything that runs the AWS CLI against the emulator and returns its JSON answer. */
export type AwsCli = <T = Record<string, unknown>>(args: string[]) => Promise<T>;

/**
 * Nothing in AWS: no live stack, no hosted zone, no instance, no launch template. The check a
 * refused request ends with; test/harness.test.ts shows it failing for each kind of leftover.
 */
export async function assertNothingCreated(aws: AwsCli): Promise<void> {
  const stacks = await aws<{ Stacks: unknown[] }>(["cloudformation", "describe-stacks"]);
  assert.deepEqual(stacks.Stacks, [], "no stack");
  const zones = await aws<{ HostedZones: unknown[] }>(["route53", "list-hosted-zones"]);
  assert.deepEqual(zones.HostedZones, [], "no hosted zone");
  const instances = await aws<{ Reservations: unknown[] }>(["ec2", "describe-instances"]);
  assert.deepEqual(instances.Reservations, [], "no instance");
  const templates = await aws<{ LaunchTemplates: unknown[] }>(["ec2", "describe-launch-templates"]);
  assert.deepEqual(templates.LaunchTemplates, [], "no launch template");
}

// ---------------------------------------------------------------- pandacluster serve

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:PORT, from its "listening on" line. */
  url: string;
  /** What it wrote to stderr so far (its start-up lines). */
  stderr(): string;
  /** What it wrote to stdout so far (its log, JSON lines). */
  stdout(): string;
  /** Resolves with its exit code when it exits. */
  exited: Promise<number | null>;
}

export interface ServeOptions {
  /** The child's whole environment (isolatedAwsProcessEnv(…) plus PANDACLUSTER_* settings). */
  env: NodeJS.ProcessEnv;
  /** --db: a SQLite file or a PostgreSQL URL. */
  db: string;
  /** A name for errors (e.g. the replica's id). */
  name?: string;
  /** How long it may take to listen (default 120 s: a loaded machine starts node slowly). */
  startMs?: number;
  /** Every child started is pushed here (for an after() hook to SIGKILL the ones left). */
  children?: ChildProcess[];
}

/** Starts `pandacluster serve --port 0 --db …`; resolves once it listens, rejects if it exits first. */
export function serve(options: ServeOptions): Promise<Served> {
  const name = options.name ?? "serve";
  const startMs = options.startMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "serve", "--port", "0", "--db", options.db], {
      env: options.env,
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    options.children?.push(child);
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not listen within ${startMs} ms: ${stderr}`));
    }, startMs);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stderr: () => stderr, stdout: () => stdout, exited });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
}

// ---------------------------------------------------------------- as a user other than root

export interface Unprivileged {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Who ran it: "nobody" (root dropped to uid 65534 with setpriv) or "this user" (not root). */
  as: "nobody" | "this user";
}

/**
 * Runs an ES module's code (`node --input-type=module -e code`) as a user that file permissions
 * apply to: as root (these machines, CI), through setpriv as nobody (uid/gid 65534, no groups),
 * since root reads and writes every file; as anyone else, as that user. So a permission check runs
 * on every machine instead of skipping as root. The folders it uses must be open to nobody (0755).
 */
export function runUnprivileged(code: string, timeoutMs = 60_000): Promise<Unprivileged> {
  const root = process.getuid?.() === 0;
  const node = [process.execPath, "--input-type=module", "-e", code];
  const [file, args] = root
    ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...node]]
    : [node[0] as string, node.slice(1)];
  return within(
    new Promise<Unprivileged>((resolve, reject) => {
      const child = spawn(file, args, { env: { PATH: process.env.PATH, HOME: "/nonexistent" } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (exit) => resolve({ code: exit, stdout, stderr, as: root ? "nobody" : "this user" }));
    }),
    timeoutMs,
    `the unprivileged child (node -e) to end`,
  );
}

/** A compiled module of this repository (dist/…) as a file URL, for runUnprivileged's imports. */
export function distModule(path: string): string {
  return new URL(`../../${path}`, import.meta.url).href;
}
