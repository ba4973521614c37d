/**
 * One Flatcar controller of the harness, run on this machine from the very Ignition config that
 * build_template/create generate: its files (storage.files) are written, its units and drop-ins are
 * read the way systemd reads them (unit.ts) and their Exec lines run with bash and the real
 * programs. What the harness substitutes, and only that:
 *
 * - Flatcar's metadata (coreos-metadata.service writes /run/metadata/flatcar from IMDS): written by
 *   the harness from the node's facts, with the node's own loopback address as its private IPv4;
 * - IMDS itself: imds-mock.ts, reached through AWS_EC2_METADATA_SERVICE_ENDPOINT;
 * - AWS: moto, reached through AWS_ENDPOINT_URL;
 * - the machine: each node's processes run in their own mount namespace (unshare -m) where the
 *   node's own folders (/var/lib/etcd, /etc/…, /opt/…, /run/metadata, …) are bind-mounted from the
 *   node's root folder, so the scripts use their real paths; each node has its own 127.x.y.z address,
 *   and the config's wildcard listen address 0.0.0.0 means that address (a real node has its own
 *   network stack; here all nodes share one);
 * - programs that cannot run here, each a named shim on PATH (test/fixtures/flatcar/shims/):
 *   etcd-wrapper (docker → Debian's etcd), systemctl, update_engine_client, docker.
 *
 * The mount points under /etc are created on this machine when missing (empty folders, left in
 * place); /run, /var/lib and /opt exist.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { IgnitionConfig, IgnitionFile } from "../../../src/template/ignition.js";
import { type ImdsMock, type InstanceFacts, startImdsMock } from "./imds-mock.js";
import { expandExec, parseEnvironmentFile, parseUnit, type ServiceUnit, unitList } from "./unit.js";

/** What a node boots from: the effective Ignition config (merged configs applied). */
export type NodeConfig = IgnitionConfig;

const FIXTURES = fileURLToPath(new URL("../../../../test/fixtures/flatcar/", import.meta.url));
/** The harness's shims: what cannot run on this machine (see each file's header). */
export const SHIMS_DIR = join(FIXTURES, "shims");
/** Units the Flatcar image ships that pandacluster's config only adds drop-ins to. */
export const IMAGE_UNITS_DIR = join(FIXTURES, "image-units");

/** Programs of the Flatcar image that the config's units name by path, and the shim that runs them here. */
const IMAGE_PROGRAMS: Record<string, string> = {
  "/usr/lib/flatcar/etcd-wrapper": "etcd-wrapper",
  "/usr/lib/coreos/etcd-wrapper": "etcd-wrapper",
  "/usr/bin/systemctl": "systemctl",
  "/usr/bin/update_engine_client": "update_engine_client",
  "/usr/bin/docker": "docker",
};

/** Units the harness runs itself rather than from a unit file (each stands for Flatcar's). */
const STAND_INS = new Set(["coreos-metadata.service"]);

/** Node folders always private to a node, beside those the config's files live in. */
const NODE_FOLDERS = [
  "/var/lib/etcd",
  "/var/lib/flatcar",
  "/run/metadata",
  "/etc/flatcar",
  "/run/pandacluster",
];

export interface NodeOptions {
  name: string;
  /** The node's own loopback address (127.x.y.z), its "private IPv4". */
  ip: string;
  config: NodeConfig;
  facts: Omit<InstanceFacts, "privateIp">;
  /** moto's endpoint (AWS_ENDPOINT_URL) and the region, when the node's scripts call AWS. */
  awsEndpoint?: string;
  /** Where the node's root folder goes. */
  parent: string;
  /** Extra environment for every process (e.g. ETCDCTL_API). */
  env?: Record<string, string>;
  /** The harness's EBS volumes (a folder per volume id), for the volume shims. */
  volumes?: string;
  /** A resolv.conf naming the VPC resolver stand-in, bound over /etc/resolv.conf. */
  resolvConf?: string;
  /** The EBS volume whose NVMe device the node sees (/dev/disk/by-id/…) once EC2 attached it. */
  volumeId?: string;
}

export interface RunningUnit {
  unit: ServiceUnit;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done: boolean;
}

export class FlatcarNode {
  readonly name: string;
  readonly ip: string;
  readonly root: string;
  /** The harness's own record of the node (logs, shim state), outside the node's folders. */
  readonly state: string;
  config: NodeConfig;
  facts: InstanceFacts;
  imds?: ImdsMock;
  readonly machineId = randomBytes(16).toString("hex");
  /** Added to every process's environment from now on (a test's tuning of a node script). */
  extraEnv: Record<string, string> = {};
  private readonly running = new Map<string, RunningUnit>();
  /** The boot units of the boot under way that have not started yet (for a deadline's message). */
  readonly booting = new Set<string>();
  private readonly starts = new Map<string, Promise<RunningUnit | undefined>>();
  /** Every process of the node still running (units' and their Exec lines'). */
  private readonly children = new Set<ChildProcess>();
  private readonly options: NodeOptions;

  constructor(options: NodeOptions) {
    this.options = options;
    this.name = options.name;
    this.ip = options.ip;
    this.config = options.config;
    this.facts = { ...options.facts, privateIp: options.ip };
    this.root = join(options.parent, options.name);
    this.state = join(this.root, ".harness");
    mkdirSync(join(this.state, "active"), { recursive: true });
  }

  /**
   * The folders of this machine that are the node's own (bind-mounted from its root): /run, /var/lib
   * and /opt whole (a node's runtime state, its state and its programs; nothing the harness runs in
   * a node needs this machine's), and under /etc each folder the config writes to.
   */
  mountPoints(): string[] {
    const paths = [...NODE_FOLDERS, ...(this.config.storage?.files ?? []).map((f) => dirname(f.path))];
    const tops = paths.map((p) => {
      const parts = p.split("/").filter(Boolean);
      if (parts[0] === "opt" || parts[0] === "run") return `/${parts[0]}`;
      if (parts[0] === "var" && parts[1] === "lib") return "/var/lib";
      if (parts[0] !== "etc") {
        throw new Error(`harness: ${p} is outside the folders a node owns here (/etc, /run, /opt, /var/lib)`);
      }
      return `/${parts.slice(0, 2).join("/")}`;
    });
    return [...new Set(tops)].sort();
  }

  /** What Ignition does on first boot: writes the config's files into the node's folders. */
  provision(): void {
    this.folders();
    for (const file of this.config.storage?.files ?? []) {
      const target = join(this.root, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, fileContents(file));
      chmodSync(target, file.mode ?? 0o644);
    }
    writeFileSync(join(this.root, "etc", "machine-id.harness"), `${this.machineId}\n`);
  }

  /** The node's own folders and their mount points on this machine exist. */
  private folders(): void {
    for (const top of this.mountPoints()) {
      mkdirSync(join(this.root, top), { recursive: true });
      if (!existsSync(top)) mkdirSync(top, { recursive: true });
    }
    if (this.options.volumeId) {
      // The udev of an attached EBS volume on a Nitro instance: its NVMe disk by id (a block device
      // node; the mount shim refuses it unless EC2 says the volume is attached to this instance).
      const byId = join(this.root, "dev", "disk", "by-id");
      mkdirSync(byId, { recursive: true });
      const device = join(byId, `nvme-Amazon_Elastic_Block_Store_${this.options.volumeId.replace("-", "")}`);
      if (!existsSync(device)) execFileSync("/usr/bin/mknod", [device, "b", "7", "250"]);
      if (!existsSync("/dev/disk")) mkdirSync("/dev/disk");
    }
  }

  /** The volumes the node mounted during this boot: [folder, volume id]. */
  mounts(): [string, string][] {
    const path = join(this.state, "mounts");
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ") as [string, string]);
  }

  /** The IMDS mock answers for this node from now on. */
  async startMetadata(): Promise<void> {
    this.imds ??= await startImdsMock(this.facts);
  }

  /**
   * Stand-in for coreos-metadata.service on EC2: writes /run/metadata/flatcar with the variables
   * Afterburn writes there (COREOS_EC2_*), from the node's facts.
   */
  coreosMetadata(): void {
    const f = this.facts;
    const lines = [
      `COREOS_EC2_IPV4_LOCAL=${f.privateIp}`,
      ...(f.publicIp ? [`COREOS_EC2_IPV4_PUBLIC=${f.publicIp}`] : []),
      `COREOS_EC2_HOSTNAME=ip-${f.privateIp.replaceAll(".", "-")}.ec2.internal`,
      `COREOS_EC2_INSTANCE_ID=${f.instanceId}`,
      `COREOS_EC2_AVAILABILITY_ZONE=${f.availabilityZone}`,
      `COREOS_EC2_REGION=${f.region}`,
    ];
    mkdirSync(join(this.root, "run", "metadata"), { recursive: true });
    writeFileSync(join(this.root, "run", "metadata", "flatcar"), `${lines.join("\n")}\n`);
  }

  /** The unit as systemd would read it on this node: the config's text, else the image's. */
  unit(name: string): ServiceUnit {
    const fromConfig = this.config.systemd?.units.find((u) => u.name === name);
    let text = fromConfig?.contents;
    if (text === undefined) {
      const shipped = join(IMAGE_UNITS_DIR, name);
      if (!existsSync(shipped))
        throw new Error(`harness: ${name} has no contents and is not a known image unit`);
      text = readFileSync(shipped, "utf8");
    }
    return parseUnit(name, text, fromConfig?.dropins ?? [], {
      machineId: this.machineId,
      hostname: `ip-${this.ip.replaceAll(".", "-")}`,
    });
  }

  /** The units that start at boot: enabled with WantedBy=multi-user.target, or linked into it. */
  bootUnits(): string[] {
    const names = new Set<string>();
    for (const u of this.config.systemd?.units ?? []) {
      if (u.mask) continue;
      if (u.enabled && unitList(this.unit(u.name), "Install", "WantedBy").includes("multi-user.target"))
        names.add(u.name);
    }
    for (const link of this.config.storage?.links ?? []) {
      const m = /^\/etc\/systemd\/system\/multi-user\.target\.wants\/(.+)$/.exec(link.path);
      if (m) names.add(m[1] as string);
    }
    return [...names];
  }

  /** The environment every process of the node starts with (a unit's own is added to it). */
  baseEnv(): Record<string, string> {
    return {
      PATH: `${SHIMS_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: join(this.root, "root"),
      LANG: "C.UTF-8",
      HARNESS_STATE: this.state,
      ...(this.imds ? { AWS_EC2_METADATA_SERVICE_ENDPOINT: this.imds.endpoint } : {}),
      ...(this.options.awsEndpoint
        ? {
            AWS_ENDPOINT_URL: this.options.awsEndpoint,
            AWS_REGION: this.facts.region,
            HARNESS_AWS_ENDPOINT: this.options.awsEndpoint,
            HARNESS_REGION: this.facts.region,
            HARNESS_INSTANCE_ID: this.facts.instanceId,
          }
        : {}),
      ...(this.options.volumes ? { HARNESS_VOLUMES: this.options.volumes } : {}),
      ...this.options.env,
      ...this.extraEnv,
    };
  }

  /** The unit's environment: its Environment= lines, then its EnvironmentFiles (read now). */
  unitEnv(unit: ServiceUnit): Map<string, string> {
    const env = new Map(unit.environment);
    for (const file of unit.environmentFiles) {
      const path = join(this.root, file.path);
      if (!existsSync(path)) {
        if (file.optional) continue;
        throw new Error(`harness: ${this.name} ${unit.name}: EnvironmentFile ${file.path} is missing`);
      }
      for (const [k, v] of parseEnvironmentFile(readFileSync(path, "utf8"))) env.set(k, v);
    }
    return env;
  }

  /** argv with the image's programs replaced by their shims and 0.0.0.0 by the node's address. */
  private localArgv(argv: string[]): string[] {
    const [program, ...rest] = argv;
    if (program === undefined) throw new Error("harness: empty command line");
    const shim = IMAGE_PROGRAMS[program];
    return [shim ? join(SHIMS_DIR, shim) : program, ...rest.map((a) => this.ownAddress(a))];
  }

  /** The wildcard address of a listen URL, as this node's own address (see the header). */
  private ownAddress(text: string): string {
    return text.replaceAll("://0.0.0.0:", `://${this.ip}:`);
  }

  /** Spawns argv in the node's mount namespace, output appended to the unit's log. */
  spawnInNode(argv: string[], env: Record<string, string>, logName: string): ChildProcess {
    const pairs: [string, string][] = this.mountPoints().map((p) => [join(this.root, p), p]);
    if (this.options.resolvConf) pairs.push([this.options.resolvConf, "/etc/resolv.conf"]);
    if (this.options.volumeId) pairs.push([join(this.root, "dev", "disk"), "/dev/disk"]);
    // Volumes the node mounted during this boot (the mount shim's record), over its own folders.
    for (const [dir, volume] of this.mounts()) {
      if (this.options.volumes) pairs.push([join(this.options.volumes, volume), dir]);
    }
    const binds = pairs.map(([from, to]) => `/usr/bin/mount --bind ${shq(from)} ${shq(to)}`).join(" && ");
    const log = openSync(join(this.state, `${logName}.log`), "a");
    const child = spawn(
      "/usr/bin/setpriv",
      [
        "--pdeathsig",
        "KILL",
        "--",
        "/usr/bin/unshare",
        "-m",
        "--propagation",
        "private",
        "--",
        "/bin/bash",
        "-c",
        `${binds} && cd / && exec "$@"`,
        `node-${this.name}`,
        ...argv,
      ],
      { env, stdio: ["ignore", log, log], detached: true },
    );
    // Closed once the child has it (closing it at once could hand its number to the next log).
    child.once("spawn", () => closeSync(log));
    child.once("error", () => closeSync(log));
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Runs a command in the node to completion (what a person or a test would run on the node). */
  exec(argv: string[], env: Record<string, string> = {}, logName = "exec"): Promise<number> {
    const child = this.spawnInNode(this.localArgv(argv), { ...this.baseEnv(), ...env }, logName);
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  }

  /**
   * Starts a unit as systemd would: its Requires= first (coreos-metadata by its stand-in), then
   * ExecStartPre lines in order, then ExecStart (a oneshot's lines one after the other, to the end;
   * any other type keeps running). Resolves once the unit is started (a oneshot: finished).
   */
  start(name: string): Promise<RunningUnit | undefined> {
    // A unit started twice in one boot (Requires= and the boot both) runs once, as with systemd.
    let started = this.starts.get(name);
    const running = this.running.get(name);
    if (started && !running?.done) return started;
    started = this.startOnce(name);
    this.starts.set(name, started);
    // A oneshot without RemainAfterExit=yes is inactive once it finished: it may be started again
    // (a timer's next tick, a Requires=). With it, it stays active until the node stops.
    const remains =
      STAND_INS.has(name) ||
      this.unit(name).sections.get("Service")?.get("RemainAfterExit")?.at(-1) === "yes";
    started.then(
      (r) => {
        if (!r && !remains) this.starts.delete(name);
      },
      () => this.starts.delete(name),
    );
    return started;
  }

  private async startOnce(name: string): Promise<RunningUnit | undefined> {
    if (STAND_INS.has(name)) {
      this.coreosMetadata();
      return undefined;
    }
    const unit = this.unit(name);
    for (const dep of unitList(unit, "Unit", "Requires")) await this.start(dep);
    const env = {
      ...this.baseEnv(),
      ...Object.fromEntries([...this.unitEnv(unit)].map(([k, v]) => [k, this.ownAddress(v)])),
    };
    const envMap = new Map(Object.entries(env));
    const runToEnd = async (key: "ExecStartPre" | "ExecStart" | "ExecStartPost") => {
      for (const line of unit.exec[key]) {
        const argv = this.localArgv(expandExec(line, envMap));
        const child = this.spawnInNode(argv, env, name);
        const code = await new Promise<number>((resolve, reject) => {
          child.once("error", reject);
          child.once("exit", (c, s) => resolve(c ?? (s ? 128 : 1)));
        });
        if (code !== 0 && !line.ignoreFailure) {
          throw new Error(
            `harness: ${this.name} ${name}: ${key} ${argv.join(" ")} exited ${code}; log:\n${this.log(name)}`,
          );
        }
      }
    };
    await runToEnd("ExecStartPre");
    if (unit.type === "oneshot") {
      await runToEnd("ExecStart");
      await runToEnd("ExecStartPost");
      return undefined;
    }
    const line = unit.exec.ExecStart.at(-1);
    if (!line) throw new Error(`harness: ${this.name} ${name} has no ExecStart`);
    const argv = this.localArgv(expandExec(line, envMap));
    const child = this.spawnInNode(argv, env, name);
    const running: RunningUnit = {
      unit,
      child,
      done: false,
      exited: new Promise((resolve) =>
        child.once("exit", (code, signal) => {
          running.done = true;
          rmSync(join(this.state, "active", name), { force: true });
          resolve({ code, signal });
        }),
      ),
    };
    writeFileSync(join(this.state, "active", name), "");
    this.running.set(name, running);
    await runToEnd("ExecStartPost");
    return running;
  }

  /**
   * Boots the node: metadata, then every boot unit (Requires= first), each after the units it is
   * After= (a service counts as up once its process runs; a oneshot once it finished). Resolves
   * when every boot unit has started (a oneshot that waits, waits).
   */
  async boot(): Promise<void> {
    this.folders();
    await this.startMetadata();
    const names = this.bootUnits();
    for (const name of names) this.booting.add(name);
    const started = new Map<string, Promise<unknown>>();
    const bring = (name: string): Promise<unknown> => {
      const known = started.get(name);
      if (known) return known;
      const after = unitList(this.unit(name), "Unit", "After").filter((n) => names.includes(n) && n !== name);
      const promise = Promise.all(after.map(bring))
        .then(() => this.start(name))
        .finally(() => this.booting.delete(name));
      started.set(name, promise);
      return promise;
    };
    await Promise.all(names.map(bring));
  }

  /**
   * A reboot: every unit stops (SIGTERM), /run is emptied (a tmpfs), the update the engine applied
   * is now running (the shim reports idle again), and the node boots.
   */
  async reboot(): Promise<void> {
    await this.powerOff();
    await this.boot();
  }

  /** The first half of a reboot: every unit stopped, /run gone, the new Flatcar version in place. */
  async powerOff(): Promise<void> {
    await this.shutdown();
    rmSync(join(this.state, "mounts"), { force: true });
    rmSync(join(this.root, "run"), { recursive: true, force: true });
    rmSync(join(this.state, "update-status"), { force: true });
  }

  /** Stops a running unit: SIGTERM to its process group (systemd's default), SIGKILL after 10 s. */
  async stop(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const running = this.running.get(name);
    if (!running || running.done || running.child.pid === undefined) return;
    try {
      process.kill(-running.child.pid, signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        if (running.child.pid !== undefined) process.kill(-running.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    await running.exited;
    clearTimeout(timer);
  }

  /** The instance dies at once (terminated, power lost): every process of it is killed. */
  async kill(): Promise<void> {
    await this.signalAll("SIGKILL");
  }

  /** Every unit stops (a clean shutdown): SIGTERM to every process group, SIGKILL after 10 s. */
  async shutdown(): Promise<void> {
    await this.signalAll("SIGTERM");
  }

  private async signalAll(signal: NodeJS.Signals): Promise<void> {
    this.starts.clear();
    const children = [...this.children];
    const gone = children.map(
      (c) =>
        new Promise((resolve) =>
          c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once("exit", resolve),
        ),
    );
    const send = (sig: NodeJS.Signals) => {
      for (const c of children) {
        try {
          if (c.pid !== undefined) process.kill(-c.pid, sig);
        } catch {
          // already gone
        }
      }
    };
    send(signal);
    const timer = setTimeout(() => send("SIGKILL"), 10_000);
    await Promise.all(gone);
    clearTimeout(timer);
  }

  isRunning(name: string): boolean {
    const r = this.running.get(name);
    return r !== undefined && !r.done;
  }

  /** A unit's output so far (its "journal"). */
  log(name: string): string {
    const path = join(this.state, `${name}.log`);
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  /** Sets what the node's update_engine_client shim reports as CURRENT_OP. */
  setUpdateStatus(op: string): void {
    writeFileSync(join(this.state, "update-status"), op);
  }

  /** Whether a process of the node asked systemd to reboot (and clears the request). */
  takeRebootRequest(): boolean {
    const path = join(this.state, "reboot-requested");
    if (!existsSync(path)) return false;
    rmSync(path);
    return true;
  }

  /** The node's folder (its disk) wiped: a replacement instance with an empty data volume. */
  wipe(folder: string): void {
    rmSync(join(this.root, folder), { recursive: true, force: true });
    mkdirSync(join(this.root, folder), { recursive: true });
  }

  async close(): Promise<void> {
    await this.kill();
    await this.imds?.close();
    this.imds = undefined;
  }
}

function fileContents(file: IgnitionFile): Buffer {
  const source = file.contents?.source ?? "";
  const m = /^data:([^,]*?)(;base64)?,(.*)$/s.exec(source);
  if (!m) {
    if (source === "") return Buffer.alloc(0);
    throw new Error(`harness: ${file.path}: only data: URLs are read (got ${source.slice(0, 30)})`);
  }
  const raw = m[2] ? Buffer.from(m[3] as string, "base64") : Buffer.from(decodeURIComponent(m[3] as string));
  return file.contents?.compression === "gzip" ? gunzipSync(raw) : raw;
}

function shq(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
