import { dirname, resolve } from "node:path";
import { readCsonFile } from "./cson.js";
import { type ArgumentSpec, type CommandName, commandSpec, flagLabel } from "./definitions.js";
import { type Problem, UsageError } from "./errors.js";
import { instanceTypeArch } from "./instance_types.js";
import { shellQuote } from "./shell.js";
import { etcdVersionProblem } from "./template/etcd/version.js";

/**
 * Who is giving the options. The checks are the same; what differs is how an argument is named in
 * a message (--cluster-size (-s) on the command line, cluster_size elsewhere), how raw the values
 * are (the command line gives strings), and what an "object" argument may be (a file path from the
 * CLI or library; inline data only over HTTP, where a path would read the server's own files).
 */
export type Face = "cli" | "library" | "http";

export type Channel = "stable" | "beta" | "alpha" | "lts";
export type Arch = "amd64" | "arm64";
export type OnFailure = "DELETE" | "ROLLBACK" | "DO_NOTHING";
/** How the nodes read their boot config (src/template/boot.ts). */
export type Provisioning = "ignition" | "cloud-config";

/**
 * Units to put on the nodes: the parsed list and where it came from (for messages). Whether its
 * entries may name files (`content`) is not in this object: only units read from a file by the
 * library itself (unitsFromFile) get a folder, kept where no caller-built object can reach it
 * (unitsFolder). Units from anywhere else — inline in library use, over HTTP, or read back from
 * the server's store — have none, so any file path in them is an error, at any depth.
 */
export interface UnitsInput {
  units: unknown;
  /** Where the units came from, for messages. */
  source: string;
}

/** The folder of each units file the library read itself; nothing else can be in it. */
const unitFolders = new WeakMap<UnitsInput, string>();

/** Reads a units file (CSON); its entries' `content` paths are relative to its folder. */
export function unitsFromFile(path: string): UnitsInput {
  const absolute = resolve(path);
  return unitsWithFolder(readCsonFile(absolute), absolute, dirname(absolute));
}

/**
 * Units whose `content` paths are read from `folder`: for the library's own callers (a units file
 * already parsed, tests). Not reachable from data: only code can call it.
 */
export function unitsWithFolder(list: unknown, source: string, folder: string): UnitsInput {
  const units: UnitsInput = { units: list, source };
  unitFolders.set(units, resolve(folder));
  return units;
}

/** The folder a units file's `content` paths are read from; undefined for units that came inline. */
export function unitsFolder(units: UnitsInput): string | undefined {
  return unitFolders.get(units);
}

/** How the etcd members first meet (doc/etcd.md). */
export type EtcdBootstrap = "static" | "discovery";

/** The bootstrap asked for: etcd_bootstrap, else discovery when a discovery URL or service is given. */
export function etcdBootstrapOf(
  options: Partial<Pick<CreateOptions, "etcd_bootstrap" | "discovery_url" | "discovery_service">>,
): EtcdBootstrap {
  if (options.etcd_bootstrap) return options.etcd_bootstrap;
  return options.discovery_url || options.discovery_service ? "discovery" : "static";
}

export interface BuildTemplateOptions {
  /** Controllers: one slot each (static bootstrap); the discovery mode's group size is a parameter. */
  cluster_size?: number;
  etcd_version?: string;
  etcd_bootstrap?: EtcdBootstrap;
  /** Availability zones (2 or 3). */
  zones?: number;
  channel: Channel;
  arch: Arch;
  virtualization: "hvm";
  provisioning: Provisioning;
  units?: UnitsInput;
  /** Where to write the template; "-" for stdout; absent/false in library use returns the template. */
  write_path?: string | false;
  region?: string;
  offline: boolean;
}

export interface CreateOptions {
  stack_name: string;
  key_pair: string;
  instance_type: string;
  cluster_size: number;
  workers: number;
  region?: string;
  template_path?: string;
  channel: Channel;
  arch: Arch;
  provisioning: Provisioning;
  units?: UnitsInput;
  image_id?: string;
  etcd_version?: string;
  etcd_bootstrap?: EtcdBootstrap;
  discovery_url?: string;
  discovery_service?: string;
  private_domain?: string;
  public_domain?: string;
  /** Absent: SSH stays closed (no rule for port 22). */
  allow_ssh_from?: string;
  /** GiB of each node's root volume (encrypted gp3). */
  volume_size: number;
  on_failure: OnFailure;
  timeout: number;
  dry_run: boolean;
  profile?: string;
  /**
   * Not an argument (the definitions do not list it, so callers cannot give it): the API server's
   * create job passes the ClientRequestToken it stored, to find its own stack again by its tag.
   */
  client_token?: string;
}

export interface DestroyOptions {
  stack_name: string;
  region?: string;
  no_wait: boolean;
  timeout?: number;
  profile?: string;
  /**
   * Not an argument: the API server deletes only the stack its own job created, by StackId. A stack
   * of that id already deleted is not looked for again by name.
   */
  stack_id?: string;
}

export interface StackOptions {
  stack_name: string;
  region?: string;
  timeout?: number;
  profile?: string;
  /**
   * Not an argument (the definitions do not list it, so no CLI flag or request body can give it):
   * the StackId the cluster's own create returned. Given (the server always gives it), the flow acts
   * on that stack only and refuses one merely of the same name (lifecycle/identity.ts).
   */
  stack_id?: string;
}

export interface ScaleOptions {
  stack_name: string;
  workers: number;
  /** Refused when given: etcd's membership is fixed at bootstrap. */
  cluster_size?: number | null;
  region?: string;
  timeout?: number;
  profile?: string;
  /**
   * Not an argument (the definitions do not list it, so no CLI flag or request body can give it):
   * the StackId the cluster's own create returned. Given (the server always gives it), the flow acts
   * on that stack only and refuses one merely of the same name (lifecycle/identity.ts).
   */
  stack_id?: string;
}

export interface UpgradeOptions {
  stack_name: string;
  image_id?: string;
  /** Move the controllers' etcd to this release (etcd's upgrade rules, template/etcd/version.ts). */
  etcd_version?: string;
  min_healthy: number;
  region?: string;
  timeout?: number;
  dry_run: boolean;
  profile?: string;
  /**
   * Not an argument: the StackId the cluster's own create returned (the API server's upgrade job
   * gives it). Given, the upgrade acts on that stack only (lifecycle/identity.ts).
   */
  stack_id?: string;
}

export interface ListOptions {
  region?: string;
  profile?: string;
}

export interface ServeOptions {
  host: string;
  port: number;
  db?: string;
  /** serve --audit-log FILE: the audit log appended here too (JSON lines, mode 0600). */
  audit_log?: string;
  /** serve --metrics-port N: GET /metrics without a token on 127.0.0.1:N. */
  metrics_port?: number;
}

export interface OptionsOf {
  build_template: BuildTemplateOptions;
  create: CreateOptions;
  destroy: DestroyOptions;
  status: StackOptions;
  wait: StackOptions;
  scale: ScaleOptions;
  upgrade: UpgradeOptions;
  sync: StackOptions;
  list: ListOptions;
  serve: ServeOptions;
}

/** How an argument is named to the person who gave it. */
export function argumentLabel(spec: ArgumentSpec, face: Face): string {
  return face === "cli" ? flagLabel(spec) : spec.name;
}

/**
 * Checks options against the command's definitions and returns them with defaults applied.
 * Every problem found is reported at once, each naming its argument.
 */
export function validateOptions<C extends CommandName>(
  command: C,
  input: Record<string, unknown>,
  face: Face,
): OptionsOf[C] {
  const spec = commandSpec(command);
  const problems: Problem[] = [];
  const output: Record<string, unknown> = {};
  const known = new Set(
    spec.arguments
      .filter((a) => face === "cli" || !a.cli_only)
      .filter((a) => face !== "http" || !a.http_refused)
      .map((a) => a.name),
  );

  for (const key of Object.keys(input)) {
    if (input[key] === undefined) continue;
    const refused = face === "http" ? spec.arguments.find((a) => a.name === key)?.http_refused : undefined;
    if (refused) problems.push({ argument: key, message: `is not accepted over HTTP: ${refused}` });
    else if (!known.has(key)) problems.push({ argument: key, message: "unknown option" });
  }
  for (const arg of spec.arguments) {
    if (!known.has(arg.name)) continue;
    const raw = input[arg.name];
    const label = argumentLabel(arg, face);
    if (raw === undefined || raw === null) {
      if (arg.required) problems.push({ argument: label, message: "is required" });
      continue;
    }
    const checked = checkValue(arg, raw, face);
    if ("problem" in checked) problems.push({ argument: label, message: checked.problem });
    else output[arg.name] = checked.value;
  }
  // `scale -s 5` asks for what scale can never do: say why first, not that --workers is missing.
  if (command === "scale" && input.cluster_size !== undefined && input.cluster_size !== null) {
    throw new UsageError([controllersFixedProblem(String(input.stack_name ?? "NAME"))], command);
  }
  if (problems.length > 0) throw new UsageError(problems, command);
  applyDefaults(spec.arguments, output, face);
  if (command === "create") problems.push(...createChecks(output as unknown as CreateOptions, face));
  // upgrade: the version itself here (before any AWS call); the move from the cluster's version is
  // judged against its stack (lifecycle/upgrade.ts: etcd's upgrade rules).
  if (command === "create" || command === "build_template" || command === "upgrade")
    problems.push(...etcdChecks(command, output, face));
  if (problems.length > 0) throw new UsageError(problems, command);
  return output as unknown as OptionsOf[C];
}

/** Why scale cannot change the number of controllers, and what to do instead. */
export function controllersFixedProblem(name: string): Problem {
  return {
    argument: "the controllers (--cluster-size, cluster_size)",
    message:
      "cannot be changed by scale: the controllers are the cluster's etcd members, and etcd's " +
      "membership is fixed when it bootstraps from the discovery URL (sized for exactly that many). " +
      `Change the workers instead (pandacluster scale -n ${shellQuote(name)} --workers N), or create a new ` +
      "cluster with the controllers you need and move to it",
  };
}

/** DNS's longest label (RFC 1035, section 2.3.4). */
export const DNS_LABEL_MAX = 63;

/**
 * The checks that concern two arguments at once, made before anything is created: a stack name
 * that must be a DNS label (it names the default private zone <name>.cluster and the public name
 * <name>.<domain>, lowercased), and an instance type of the architecture asked for.
 */
function createChecks(options: CreateOptions, face: Face): Problem[] {
  const problems: Problem[] = [];
  const label = (name: string) =>
    argumentLabel(commandSpec("create").arguments.find((a) => a.name === name) as ArgumentSpec, face);
  const name = options.stack_name;
  const needsLabel = !options.private_domain || options.public_domain;
  if (needsLabel && (name.length > DNS_LABEL_MAX || name.endsWith("-"))) {
    const why =
      name.length > DNS_LABEL_MAX
        ? `is ${name.length} characters long; a DNS label has at most ${DNS_LABEL_MAX} (RFC 1035)`
        : "ends with a hyphen, which a DNS label may not (RFC 1035)";
    const where = options.public_domain
      ? `it names the nodes ${name.toLowerCase()}.${options.public_domain}; choose a shorter name`
      : `it names the private zone ${name.toLowerCase()}.cluster; choose a shorter name, or give ${label("private_domain")}`;
    problems.push({ argument: label("stack_name"), message: `${why}: ${where}` });
  }
  const checked = instanceTypeArch(options.instance_type);
  if ("problem" in checked) problems.push({ argument: label("instance_type"), message: checked.problem });
  else if (checked.arch !== options.arch) {
    problems.push({
      argument: label("instance_type"),
      message: `"${options.instance_type}" is an ${checked.arch} type but the nodes are ${options.arch} (${label("arch")}); use ${options.arch === "arm64" ? "a Graviton type such as t4g.small or m7g.large" : "an x86 type such as t3.small or m7i.large"}`,
    });
  }
  return problems;
}

/**
 * The etcd arguments together: a version new enough (and, with a discovery URL, old enough to have
 * v2 discovery), and a static bootstrap not mixed with a discovery URL or service.
 */
function etcdChecks(command: CommandName, output: Record<string, unknown>, face: Face): Problem[] {
  const problems: Problem[] = [];
  const label = (name: string) =>
    argumentLabel(commandSpec(command).arguments.find((a) => a.name === name) as ArgumentSpec, face);
  const discoveryGiven = output.discovery_url !== undefined || output.discovery_service !== undefined;
  if (output.etcd_bootstrap === "static" && discoveryGiven) {
    const which = output.discovery_url !== undefined ? "discovery_url" : "discovery_service";
    problems.push({
      argument: label("etcd_bootstrap"),
      message: `static takes no discovery service; leave out ${label(which)} or use discovery`,
    });
  }
  const discovery = output.etcd_bootstrap === "discovery" || discoveryGiven;
  if (typeof output.etcd_version === "string") {
    const problem = etcdVersionProblem(output.etcd_version, discovery);
    if (problem) problems.push({ argument: label("etcd_version"), message: problem });
  }
  return problems;
}

function applyDefaults(args: ArgumentSpec[], output: Record<string, unknown>, face: Face): void {
  for (const arg of args) {
    if (output[arg.name] !== undefined) continue;
    if ((arg.cli_only || arg.default_on_cli_only) && face !== "cli") continue;
    const conditional = arg.default_when?.find((d) =>
      Object.entries(d.when).every(([other, value]) => (output[other] ?? defaultOf(args, other)) === value),
    );
    const value = conditional ? conditional.value : arg.default;
    if (value !== undefined) output[arg.name] = value;
  }
}

function defaultOf(args: ArgumentSpec[], name: string): unknown {
  return args.find((a) => a.name === name)?.default;
}

type Checked = { value: unknown } | { problem: string };

/** Checks one value; the messages are the same whichever face gave it. */
export function checkValue(arg: ArgumentSpec, raw: unknown, face: Face): Checked {
  switch (arg.type) {
    case "boolean":
      if (typeof raw === "boolean") return { value: raw };
      return { problem: `must be true or false (got ${show(raw)})` };
    case "integer":
      return checkInteger(arg, raw, face);
    case "object":
      return checkObject(arg, raw, face);
    default:
      if (typeof raw !== "string") return { problem: `must be a string (got ${show(raw)})` };
      return checkString(arg, raw);
  }
}

function checkInteger(arg: ArgumentSpec, raw: unknown, face: Face): Checked {
  let value: number;
  if (typeof raw === "number") value = raw;
  else if (typeof raw === "string" && face === "cli" && /^[+-]?\d+$/.test(raw.trim())) value = Number(raw);
  else return { problem: `${show(raw)} is not an integer` };
  if (!Number.isSafeInteger(value)) return { problem: `${show(raw)} is not an integer` };
  if ((arg.min != null && value < arg.min) || (arg.max != null && value > arg.max)) {
    const why = arg.range_reason ? `: ${arg.range_reason}` : "";
    const odd = arg.odd_reason ? "an odd number from " : "";
    return {
      problem: `${value} is out of range; use ${odd}${arg.min ?? "any"} to ${arg.max ?? "any"}${why}`,
    };
  }
  if (arg.odd_reason && value % 2 === 0) return { problem: `${value} is even: ${arg.odd_reason}` };
  return { value };
}

function checkObject(arg: ArgumentSpec, raw: unknown, face: Face): Checked {
  if (typeof raw === "string") {
    if (face === "http") return { problem: "must be given inline as an object, not a file path" };
    if (raw === "") return { problem: "needs a file path" };
    try {
      return { value: unitsFromFile(raw) };
    } catch (error) {
      if (error instanceof UsageError) return { problem: error.message };
      throw error;
    }
  }
  if (typeof raw === "object" && raw !== null) {
    // Options validated once already (the CLI's, handed to the library) keep the units file read
    // then. Any other object is the units themselves, inline: never a folder to read files from.
    if (face !== "http" && unitFolders.has(raw as UnitsInput)) return { value: raw };
    return { value: { units: raw, source: arg.name } satisfies UnitsInput };
  }
  return { problem: `must be a CSON file path or an object (got ${show(raw)})` };
}

function checkString(arg: ArgumentSpec, value: string): Checked {
  const refused = arg.refused_values?.[value];
  if (refused) return { problem: `"${value}" is refused: ${refused}` };
  if (arg.allowed_values && !arg.allowed_values.includes(value)) {
    return { problem: `"${value}" is not allowed; use one of ${arg.allowed_values.join(", ")}` };
  }
  if (value === "") return { problem: "needs a value" };
  if (arg.max_length !== undefined && value.length > arg.max_length) {
    return { problem: `is ${value.length} characters long; at most ${arg.max_length} are allowed` };
  }
  if (arg.pattern && !new RegExp(arg.pattern).test(value)) {
    return { problem: `"${value}" is not ${arg.pattern_hint ?? `matching ${arg.pattern}`}` };
  }
  if (arg.type === "cidr" && !isIpv4Cidr(value)) {
    return { problem: `"${value}" is not an IPv4 CIDR block such as 203.0.113.0/24` };
  }
  if (arg.type === "url" && hasUserinfo(value)) {
    // Not echoed: the value holds a password.
    return {
      problem:
        "a URL with a user name or password (user:password@host) is not taken: it would be shown in errors, logs and files; give the URL without it",
    };
  }
  if (arg.type === "url" && value !== value.trim()) {
    // new URL() would strip the spaces and pass; whoever uses the value later would not.
    return { problem: `"${value}" has spaces around it; give the URL alone` };
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (arg.type === "url" && /[\s\u0000-\u001f\u007f<>]/.test(value)) {
    return {
      problem: `${JSON.stringify(value)} holds spaces, control characters, < or >, which a URL never has`,
    };
  }
  if (arg.type === "url" && !isHttpUrl(value)) {
    return { problem: `"${value}" is not an http(s) URL` };
  }
  return { value };
}

/**
 * An IPv4 CIDR block: four octets 0-255 without leading zeros, a prefix of 0-32. The one rule: the
 * template's AllowSSHFrom pattern is built from it (so `999.1.1.1/40` is refused by both).
 */
const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
export const IPV4_CIDR_PATTERN = `^(${OCTET}\\.){3}${OCTET}/(3[0-2]|[12]?[0-9])$`;

export function isIpv4Cidr(value: string): boolean {
  return new RegExp(IPV4_CIDR_PATTERN).test(value);
}

/** Whether a URL carries userinfo (user:password@): never echoed, never kept. */
export function hasUserinfo(value: string): boolean {
  try {
    const url = new URL(value.trim());
    if (url.username || url.password) return true;
  } catch {}
  // What new URL() does not parse may still hold one: scheme://…@host.
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value.trim());
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function show(raw: unknown): string {
  if (typeof raw === "string") return JSON.stringify(raw);
  if (Array.isArray(raw)) return "a list";
  if (raw === null) return "null";
  if (typeof raw === "object") return "an object";
  return String(raw);
}
