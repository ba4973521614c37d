/**
 * Real test services for pandacluster's tests: moto (the AWS emulator, from Debian trixie's
 * python3-moto, run by bookworm's /usr/bin/python3), etcd + the etcd discovery service
 * (Debian's etcd-server and etcd-discovery), and PostgreSQL (Debian's postgresql-15). Install them first with
 * `bash scripts/test-services/install.sh` (npm's pretest does). See scripts/test-services/README.md
 * for what moto does and does not do like AWS.
 *
 * Every service listens on 127.0.0.1 only, on a free port picked at start, writes its output to a
 * log file in its own temporary folder (named in every start-up error), and is killed by stop(),
 * when this process exits, and (through setpriv's parent-death signal) when this process dies.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { request } from "node:http";
import { connect, createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** Bookworm's python: the pyenv python3 first on PATH lacks Flask & co. */
export const SYSTEM_PYTHON = "/usr/bin/python3";
export const ETCD_BIN = "/usr/bin/etcd";
export const DISCOVERY_BIN = "/usr/bin/discovery.etcd.io";
/** Debian's postgresql-15 server binaries (not on PATH). */
export const POSTGRES_BIN_DIR = "/usr/lib/postgresql/15/bin";
const SETPRIV = "/usr/bin/setpriv";
/**
 * How long a service may take to answer after it starts. Generous: on the shared 2-core machine
 * under load (load average 13 seen) moto's imports alone took over 30 s. A service that cannot start
 * (missing, crashing) exits at once and fails at once; only a slow start waits this long.
 */
const START_TIMEOUT_MS = 120_000;
const HOST = "127.0.0.1";

// ---------------------------------------------------------------- paths

/** The folder install.sh fills (same rule as scripts/test-services/common.sh). */
export function servicesHome(): string {
  const fromEnv = process.env.PANDACLUSTER_TEST_SERVICES_DIR;
  if (fromEnv) return fromEnv;
  if (existsSync("/opt/pandacluster-test-services")) return "/opt/pandacluster-test-services";
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "pandacluster-test-services");
}

/** Trixie's moto & co., unpacked by install.sh. */
export function motoPythonPath(): string {
  return join(servicesHome(), "pylib");
}

/** Walks up from this module (test/helpers/ or dist/test/helpers/) to the repository root. */
function findRepoFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${relative} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** test/fixtures/flatcar-amis.json: Flatcar-like images for MOTO_AMIS_PATH (owner 075585003325). */
export function flatcarAmisFixture(): string {
  return findRepoFile(join("test", "fixtures", "flatcar-amis.json"));
}

/** The fixture's entries, e.g. to compute the newest stable image a test expects. */
export interface FixtureImage {
  ami_id: string;
  name: string;
  owner_id: string;
  architecture: "x86_64" | "arm64";
  creation_date: string;
  [key: string]: unknown;
}

export function flatcarAmis(): FixtureImage[] {
  return JSON.parse(readFileSync(flatcarAmisFixture(), "utf8")) as FixtureImage[];
}

function checkInstalled(): void {
  const missing: string[] = [];
  if (!existsSync(SYSTEM_PYTHON)) missing.push(SYSTEM_PYTHON);
  if (!existsSync(join(motoPythonPath(), "moto", "__init__.py")))
    missing.push(join(motoPythonPath(), "moto"));
  if (!existsSync(ETCD_BIN)) missing.push(ETCD_BIN);
  if (!existsSync(DISCOVERY_BIN)) missing.push(DISCOVERY_BIN);
  if (missing.length > 0) {
    throw new Error(
      `test services are not installed (missing: ${missing.join(", ")}); run: bash scripts/test-services/install.sh`,
    );
  }
}

// ---------------------------------------------------------------- processes

interface Managed {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<void>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null;
}

const running = new Set<Managed>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const managed of running) {
      try {
        managed.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

function launch(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
  /** Run as this system user (through setpriv; needs root): PostgreSQL refuses to run as root. */
  user?: { uid: number; gid: number },
): Managed {
  installExitHook();
  const fd = openSync(logPath, "a");
  // setpriv --pdeathsig: the service dies with this process even when it is SIGKILLed (setpriv
  // sets it after changing the user, which would otherwise clear it).
  const as = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups"] : [];
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, [...as, "--pdeathsig", "KILL", "--", command, ...args]]
    : [command, args];
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { env, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  const managed: Managed = { name, child, logPath, exitInfo: null, exited: Promise.resolve() };
  managed.exited = new Promise<void>((done) => {
    child.once("exit", (code, signal) => {
      managed.exitInfo = { code, signal };
      running.delete(managed);
      done();
    });
    child.once("error", (error) => {
      managed.exitInfo = { code: null, signal: null };
      running.delete(managed);
      try {
        appendFileSync(logPath, `\n${name}: cannot start ${command}: ${error.message}\n`);
      } catch {
        // the log folder is gone; nothing more to say
      }
      done();
    });
  });
  running.add(managed);
  return managed;
}

async function terminate(
  managed: Managed,
  graceMs = 5_000,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  if (managed.exitInfo) return;
  managed.child.kill(signal);
  const timer = setTimeout(() => managed.child.kill("SIGKILL"), graceMs);
  await managed.exited;
  clearTimeout(timer);
}

function logTail(logPath: string, lines = 25): string {
  try {
    const text = readFileSync(logPath, "utf8").trimEnd().split("\n");
    return text.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** A port that was free a moment ago on 127.0.0.1 (callers retry on the rare collision). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Picks the next port a service is to listen on. */
export type PortPicker = () => Promise<number>;

export interface PortOptions {
  /**
   * How ports are picked (default freePort). A test of the start-up itself passes a picker that
   * first gives a port another server holds: the race of two test runs side by side, where another
   * run's server takes our pick before our service binds it.
   */
  pickPort?: PortPicker;
}

/**
 * A loopback port that refuses connections and keeps refusing them, for "the endpoint is down"
 * tests. Not freePort(): a port that was free a moment ago goes back to the kernel's pool, where a
 * test run beside this one can get it (its server then answers instead of a refusal). A privileged
 * port (below 1024) is never handed out for port 0, and only root can bind one, which no test does;
 * this one is checked to refuse now.
 */
export async function refusedPort(): Promise<number> {
  // Not 1, 7, 9, …: fetch() refuses those itself ("bad port"), before any connection is tried.
  for (const port of [3, 5, 14, 16, 18]) {
    const refused = await new Promise<boolean>((resolveProbe) => {
      const socket = connect({ host: HOST, port });
      socket.once("connect", () => {
        socket.destroy();
        resolveProbe(false);
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolveProbe(error.code === "ECONNREFUSED"));
    });
    if (refused) return port;
  }
  throw new Error(`every probed privileged port on ${HOST} accepts connections: nothing refuses`);
}

let names = 0;
/** `prefix-<pid>-<n>-<random>`: a name no other process of this or another test run uses. */
function uniqueName(prefix: string): string {
  names += 1;
  return `${prefix}-${process.pid}-${names}-${randomBytes(3).toString("hex")}`;
}

interface HttpAnswer {
  status: number;
  body: string;
}

function httpCall(method: string, url: string, timeoutMs = 2_000): Promise<HttpAnswer> {
  return new Promise((resolveCall, reject) => {
    const req = request(url, { method, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolveCall({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Polls until `ready` resolves true, the process exits (then "exited"), or the deadline passes.
 */
async function waitUntil(
  managed: Managed,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<"ready" | "exited" | "timeout"> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (Date.now() < deadline) {
    if (managed.exitInfo) return "exited";
    try {
      if (await ready()) return "ready";
    } catch {
      // not listening yet
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  return managed.exitInfo ? "exited" : "timeout";
}

function looksLikePortClash(logPath: string): boolean {
  return /address already in use|EADDRINUSE|bind: address/i.test(logTail(logPath, 80));
}

function startupError(what: string, outcome: string, managed: Managed, hint = ""): Error {
  const how =
    outcome === "exited"
      ? `exited (code ${managed.exitInfo?.code ?? "?"}, signal ${managed.exitInfo?.signal ?? "none"})`
      : `did not answer within ${START_TIMEOUT_MS / 1000} s`;
  return new Error(
    `${what} ${how}; log: ${managed.logPath}${hint}\n--- last lines of the log ---\n${logTail(managed.logPath)}`,
  );
}

/** A minimal environment for the services: nothing of the caller's AWS settings leaks in. */
function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: tmpdir(),
    LANG: "C.UTF-8",
    TMPDIR: tmpdir(),
    ...extra,
  };
}

// ---------------------------------------------------------------- moto

export interface MotoOptions {
  /** MOTO_AMIS_PATH: replaces moto's image list (e.g. flatcarAmisFixture()). */
  amisPath?: string;
  /**
   * Default true: run moto through scripts/test-services/python/pandacluster_moto (python3 -m
   * pandacluster_moto), which fixes where moto 5.1.1 breaks pandacluster's flow: without it the
   * AWS SDK v3 cannot even parse DescribeAutoScalingGroups ("Invalid RFC3339 timestamp"),
   * DeleteStack of a VPC+IGW stack fails, describing a deleted stack re-creates its resources, a
   * failing resource poisons DescribeStacks, group instances get no public IP/key/security group.
   * The module's docstring and scripts/test-services/README.md list every fix.
   * false: plain `python3 -m moto.server`.
   */
  fixes?: boolean;
  /**
   * MOTO_ENABLE_KEYPAIR_VALIDATION and MOTO_ENABLE_AMI_VALIDATION: RunInstances (and, with
   * `fixes`, instances of Auto Scaling groups, so CreateStack) then fail for an unknown key pair
   * or image, as on AWS. Default false (moto accepts any key name and image id).
   */
  strict?: boolean;
  /**
   * AWS's pace (pandacluster_moto's PANDACLUSTER_MOTO_PACE_MS, needs `fixes`): every stack
   * operation stays *_IN_PROGRESS this many milliseconds, its events spread over that time in
   * dependency order. Default off: stacks complete inside the call.
   */
  paceMs?: number;
  /** PANDACLUSTER_MOTO_BOOT_MS: how long new instances stay pending (default paceMs). */
  bootMs?: number;
  /**
   * PANDACLUSTER_MOTO_SIGNALS=1 (with paceMs): resources with a CreationPolicy wait for
   * SignalResource (or fail on FAILURE or their timeout), as on AWS.
   */
  signals?: boolean;
  /** Extra environment for the server (e.g. other MOTO_* settings). */
  env?: NodeJS.ProcessEnv;
  /** How ports are picked (default freePort); see PortOptions. */
  pickPort?: PortPicker;
}

export interface Moto {
  /** http://127.0.0.1:PORT — use as AWS_ENDPOINT_URL (see awsEnv()). */
  endpoint: string;
  port: number;
  /** The server's output. */
  logPath: string;
  /** Whether pandacluster_moto's fixes are on. */
  fixes: boolean;
  /** POST /moto-api/reset: forget every resource in every service and region. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a moto server on a free loopback port and waits until it answers (~2-3 s). */
export async function startMoto(options: MotoOptions = {}): Promise<Moto> {
  const pickPort = options.pickPort ?? freePort;
  checkInstalled();
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-moto-"));
  const logPath = join(dir, "moto.log");
  const pythonPath = [motoPythonPath()];
  const fixes = options.fixes ?? true;
  if (fixes) pythonPath.push(findRepoFile(join("scripts", "test-services", "python")));
  const env = baseEnv({
    PYTHONPATH: pythonPath.join(":"),
    PYTHONNOUSERSITE: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
    ...(options.amisPath ? { MOTO_AMIS_PATH: resolve(options.amisPath) } : {}),
    ...(options.strict ? { MOTO_ENABLE_KEYPAIR_VALIDATION: "true", MOTO_ENABLE_AMI_VALIDATION: "true" } : {}),
    ...(options.paceMs ? { PANDACLUSTER_MOTO_PACE_MS: String(options.paceMs) } : {}),
    ...(options.bootMs !== undefined ? { PANDACLUSTER_MOTO_BOOT_MS: String(options.bootMs) } : {}),
    ...(options.signals ? { PANDACLUSTER_MOTO_SIGNALS: "1" } : {}),
    ...options.env,
  });
  if (options.amisPath && !existsSync(options.amisPath)) {
    throw new Error(`amisPath ${options.amisPath} does not exist`);
  }
  const module = fixes ? "pandacluster_moto" : "moto.server";
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await pickPort();
    const managed = launch(
      "moto",
      SYSTEM_PYTHON,
      ["-m", module, "-H", HOST, "-p", String(port)],
      env,
      logPath,
    );
    const endpoint = `http://${HOST}:${port}`;
    const outcome = await waitUntil(
      managed,
      // Ours, not merely something on that port: with two test runs side by side, another run's
      // server can take the free port between our pick and moto's bind (our moto then exits), and
      // would answer the probe. Only the process that bound the port logs werkzeug's "Running on".
      async () =>
        logTail(logPath, 200).includes(`Running on ${endpoint}`) &&
        (await httpCall("GET", `${endpoint}/moto-api/`)).status === 200,
      START_TIMEOUT_MS,
    );
    if (outcome === "ready") {
      return {
        endpoint,
        port,
        logPath,
        fixes,
        async reset() {
          const answer = await httpCall("POST", `${endpoint}/moto-api/reset`, 10_000);
          if (answer.status !== 200) {
            throw new Error(`moto reset answered HTTP ${answer.status}: ${answer.body}; log: ${logPath}`);
          }
        },
        async stop() {
          await terminate(managed);
          if (!process.env.PANDACLUSTER_KEEP_SERVICE_LOGS) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await terminate(managed, 1_000);
    lastError = startupError(`moto (${module}) on ${endpoint}`, outcome, managed);
    if (!(outcome === "exited" && looksLikePortClash(logPath))) break;
  }
  throw lastError ?? new Error(`moto did not start; log: ${logPath}`);
}

// ---------------------------------------------------------------- etcd + discovery

export interface Discovery {
  /** The discovery service, e.g. http://127.0.0.1:PORT; GET {url}/new?size=N gives a token URL. */
  url: string;
  /** The etcd behind it (v2 API enabled), e.g. http://127.0.0.1:PORT. */
  etcdEndpoint: string;
  /** Both services' output, in one folder. */
  logDir: string;
  stop(): Promise<void>;
}

/** Starts etcd (v2 API on) and the discovery service on free loopback ports (~1-2 s). */
export async function startDiscovery(options: PortOptions = {}): Promise<Discovery> {
  const pickPort = options.pickPort ?? freePort;
  checkInstalled();
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-discovery-"));
  const env = baseEnv({});
  let etcd: Managed | undefined;
  let etcdEndpoint = "";
  let lastError: Error | undefined;

  for (let attempt = 1; attempt <= 5 && !etcd; attempt++) {
    const [clientPort, peerPort] = [await pickPort(), await pickPort()];
    if (clientPort === peerPort) continue;
    const client = `http://${HOST}:${clientPort}`;
    const peer = `http://${HOST}:${peerPort}`;
    const dataDir = join(dir, `etcd-data-${attempt}`);
    const logPath = join(dir, "etcd.log");
    // A name no other etcd has: the readiness probe below accepts only the member of that name.
    const name = uniqueName("pandacluster-test");
    const managed = launch(
      "etcd",
      ETCD_BIN,
      [
        `--name=${name}`,
        `--data-dir=${dataDir}`,
        "--enable-v2=true",
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${name}=${peer}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${name}`,
      ],
      env,
      logPath,
    );
    // Ours, not merely an etcd on that port: another run's etcd (v2 on too) may have taken the port
    // between our pick and our etcd's bind (ours then exits with "address already in use"), and
    // would answer /v2/keys/ just the same. /v2/stats/self names the member that answers.
    const outcome = await waitUntil(
      managed,
      async () => {
        const answer = await httpCall("GET", `${client}/v2/stats/self`);
        return answer.status === 200 && (JSON.parse(answer.body) as { name?: string }).name === name;
      },
      START_TIMEOUT_MS,
    );
    if (outcome === "ready") {
      etcd = managed;
      etcdEndpoint = client;
      break;
    }
    await terminate(managed, 1_000);
    lastError = startupError(`etcd on ${client}`, outcome, managed);
    if (!(outcome === "exited" && looksLikePortClash(logPath))) break;
  }
  if (!etcd) throw lastError ?? new Error(`etcd did not start; logs in ${dir}`);

  const stopAll = async (...managed: Managed[]) => {
    await Promise.all(managed.map((m) => terminate(m)));
  };

  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await pickPort();
    const url = `http://${HOST}:${port}`;
    const logPath = join(dir, "discovery.log");
    const managed = launch(
      "discovery",
      DISCOVERY_BIN,
      ["--etcd", etcdEndpoint, "--host", url, "--addr", `${HOST}:${port}`],
      env,
      logPath,
    );
    // Ours, not merely a discovery service on that port: another run's service, started on the same
    // port, would give a URL with the same prefix. Only ours logs the token it made ("New cluster
    // created <token>"), after it logged that it serves on this very address.
    const outcome = await waitUntil(
      managed,
      async () => {
        const answer = await httpCall("GET", `${url}/new?size=3`);
        const token = answer.body.trim().slice(`${url}/`.length);
        if (
          answer.status !== 200 ||
          !answer.body.trim().startsWith(`${url}/`) ||
          !/^[0-9a-f]{32}$/.test(token)
        )
          return false;
        const log = logTail(logPath, 400);
        return (
          log.includes(`discovery serving on ${HOST}:${port}`) && log.includes(`New cluster created ${token}`)
        );
      },
      START_TIMEOUT_MS,
    );
    if (outcome === "ready") {
      const etcdProcess = etcd;
      return {
        url,
        etcdEndpoint,
        logDir: dir,
        async stop() {
          await stopAll(managed, etcdProcess);
          if (!process.env.PANDACLUSTER_KEEP_SERVICE_LOGS) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await terminate(managed, 1_000);
    lastError = startupError(`discovery on ${url} (etcd ${etcdEndpoint})`, outcome, managed);
    if (!(outcome === "exited" && looksLikePortClash(logPath))) break;
  }
  await stopAll(etcd);
  throw lastError ?? new Error(`discovery did not start; logs in ${dir}`);
}

/** A local etcd member that joined (or tried to join) a cluster through a discovery URL. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  logPath: string;
  /** Resolves when the process exits, with its exit code. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts one etcd process that bootstraps from `discoveryUrl`, as a Flatcar node's etcd-member does,
 * on free loopback ports. With --discovery-fallback=exit, a member the discovery service turns away
 * (the cluster is full) exits instead of becoming a proxy.
 */
export async function startEtcdMember(
  discoveryUrl: string,
  name: string,
  dir: string,
  options: PortOptions = {},
): Promise<EtcdMember> {
  const pickPort = options.pickPort ?? freePort;
  checkInstalled();
  const logPath = join(dir, `${name}.log`);
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const [clientPort, peerPort] = [await pickPort(), await pickPort()];
    if (clientPort === peerPort) continue;
    const client = `http://${HOST}:${clientPort}`;
    const peer = `http://${HOST}:${peerPort}`;
    const managed = launch(
      name,
      ETCD_BIN,
      [
        `--name=${name}`,
        `--data-dir=${join(dir, attempt === 1 ? `${name}-data` : `${name}-data-${attempt}`)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--discovery=${discoveryUrl}`,
        "--discovery-fallback=exit",
      ],
      baseEnv({}),
      logPath,
    );
    // etcd binds its peer and client ports first, then prints its configuration ("embed: name =
    // …"), then asks the discovery service. So that line means both ports are this process's; a
    // port another process took between our pick and the bind makes etcd exit before it (and before
    // it registers with the discovery service): then try other ports. Waiting for the member to
    // serve clients would not do: it serves only once the whole cluster has joined.
    const bound = () => logTail(logPath, 400).includes(`embed: name = ${name}`);
    const outcome = await waitUntil(managed, async () => bound(), START_TIMEOUT_MS);
    if (outcome === "ready" || (outcome === "exited" && bound())) {
      return {
        name,
        clientUrl: client,
        logPath,
        exited: managed.exited.then(() => managed.exitInfo?.code ?? null),
        stop: () => terminate(managed),
      };
    }
    await terminate(managed, 1_000);
    lastError = startupError(`etcd member ${name} on ${client} (peer ${peer})`, outcome, managed);
    if (!(outcome === "exited" && looksLikePortClash(logPath))) break;
  }
  throw lastError ?? new Error(`etcd member ${name} did not start; log: ${logPath}`);
}

// ---------------------------------------------------------------- PostgreSQL

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication, loopback only). */
  url: string;
  port: number;
  /** The server's output. */
  logPath: string;
  /** Creates an empty database and returns its URL: one per test keeps tests apart. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The uid and gid of the `postgres` system user that Debian's package creates. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (!uid || !gid) throw new Error("no postgres system user; run: bash scripts/test-services/install.sh");
  return { uid: Number(uid), gid: Number(gid) };
}

let databases = 0;

/**
 * Starts a throw-away PostgreSQL 15 (Debian's postgresql-15): initdb into a temporary folder owned
 * by the `postgres` system user (initdb and postgres refuse to run as root), then postgres on a
 * free loopback port with its socket in that folder, durability off (a test cluster), ~2 s.
 */
export async function startPostgres(options: PortOptions = {}): Promise<Postgres> {
  const pickPort = options.pickPort ?? freePort;
  const initdb = join(POSTGRES_BIN_DIR, "initdb");
  const postgres = join(POSTGRES_BIN_DIR, "postgres");
  const missing = [initdb, postgres, SETPRIV].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(
      `test services are not installed (missing: ${missing.join(", ")}); run: bash scripts/test-services/install.sh`,
    );
  }
  const user = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), "pandacluster-postgres-"));
  chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
  const dataDir = join(dir, "data");
  const logPath = join(dir, "postgres.log");
  closeSync(openSync(logPath, "a"));
  chownSync(logPath, user.uid, user.gid);
  const env = baseEnv({ HOME: dir, TMPDIR: dir });
  const cleanup = () => {
    if (!process.env.PANDACLUSTER_KEEP_SERVICE_LOGS) rmSync(dir, { recursive: true, force: true });
  };

  const init = launch(
    "initdb",
    initdb,
    ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    env,
    logPath,
    user,
  );
  await init.exited;
  if (init.exitInfo?.code !== 0) {
    const error = startupError(`initdb into ${dataDir}`, "exited", init);
    cleanup();
    throw error;
  }

  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await pickPort();
    const managed = launch(
      "postgres",
      postgres,
      [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        `listen_addresses=${HOST}`,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=300",
      ],
      env,
      logPath,
      user,
    );
    const url = `postgres://postgres@${HOST}:${port}/postgres`;
    const outcome = await waitUntil(
      managed,
      // Ours, not merely a PostgreSQL on that port: another run's server (same trust set-up) may have
      // taken the port between our pick and our bind (ours then exits), and would accept us just the
      // same. Only ours serves from our data folder.
      async () => {
        const client = new pg.Client({ connectionString: url });
        try {
          await client.connect();
          const answer = await client.query<{ dir: string }>(
            "SELECT current_setting('data_directory') AS dir",
          );
          return answer.rows[0]?.dir === dataDir;
        } finally {
          await client.end().catch(() => {});
        }
      },
      START_TIMEOUT_MS,
    );
    if (outcome === "ready") {
      return {
        url,
        port,
        logPath,
        async createDatabase(name) {
          databases += 1;
          const database = name ?? `test_${process.pid}_${databases}`;
          if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`bad database name ${database}`);
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await client.query(`CREATE DATABASE ${database} STRATEGY = FILE_COPY`);
          } finally {
            await client.end();
          }
          return `postgres://postgres@${HOST}:${port}/${database}`;
        },
        async stop() {
          // SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
          await terminate(managed, 5_000, "SIGINT");
          cleanup();
        },
      };
    }
    await terminate(managed, 1_000, "SIGINT");
    lastError = startupError(`postgres on ${HOST}:${port}`, outcome, managed);
    if (!(outcome === "exited" && looksLikePortClash(logPath))) break;
  }
  cleanup();
  throw lastError ?? new Error(`postgres did not start; log: ${logPath}`);
}

// ---------------------------------------------------------------- AWS client environment

/**
 * Environment that points the AWS SDK v3 and the aws CLI at moto and away from any real account:
 * fixed test credentials, us-east-1, no shared config/credentials files, no profile, no IMDS.
 * Merge it over a minimal environment (PATH, HOME of your choosing) when spawning the CLI.
 */
export function awsEnv(endpoint: string, region = "us-east-1"): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
  };
}

/**
 * process.env without any AWS_* variable (a developer's AWS_PROFILE, AWS_SESSION_TOKEN, role or
 * container credentials must not leak in) and with awsEnv(endpoint) on top: the environment to
 * give a child process (the CLI, the server) that must talk to moto only.
 */
export function isolatedAwsProcessEnv(endpoint: string, region = "us-east-1"): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("AWS_")) env[key] = value;
  }
  return { ...env, ...awsEnv(endpoint, region) };
}
