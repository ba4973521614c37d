import { gzipSync } from "node:zlib";
import { type Problem, UsageError } from "../errors.js";
import {
  type BootFile,
  type BootParts,
  ETCD_VERSION_MARKER,
  type EtcdPart,
  etcdUnit,
  etcdVariable,
} from "./boot_parts.js";
import { hasInstallSection, type UnitCommand, type UnitEntry } from "./units.js";

/**
 * Ignition config spec 3.3.0: what Butane `variant: flatcar` 1.0.0 emits, read by every supported
 * Flatcar release, and the newest that Debian's ignition-validate (2.14) checks.
 */
export const IGNITION_VERSION = "3.3.0";

export interface IgnitionUnit {
  name: string;
  enabled?: boolean;
  mask?: boolean;
  contents?: string;
  dropins?: { name: string; contents: string }[];
}

export interface IgnitionLink {
  path: string;
  target: string;
}

export interface IgnitionFile {
  path: string;
  mode: number;
  overwrite: boolean;
  contents: { source: string; compression?: string };
}

export interface IgnitionConfig {
  ignition: { version: string; config?: { merge: { source: string; compression?: string }[] } };
  passwd?: { users: { name: string; sshAuthorizedKeys: string[] }[] };
  storage?: { files?: IgnitionFile[]; links?: IgnitionLink[] };
  systemd?: { units: IgnitionUnit[] };
}

/** The drop-in that gives a unit the node's addresses (written for units that used $private_ipv4). */
export const METADATA_DROP_IN = "10-pandacluster-metadata.conf";

/**
 * coreos-metadata (Afterburn) writes the node's addresses to /run/metadata/flatcar; since Flatcar 4757
 * it runs on AWS only when a unit requires it.
 */
const METADATA_DEPENDENCY = [
  "[Unit]",
  "Requires=coreos-metadata.service",
  "After=coreos-metadata.service",
  "",
  "[Service]",
  "EnvironmentFile=/run/metadata/flatcar",
];

/** What coreos-cloudinit substitutes, and the variable coreos-metadata gives for it on EC2. */
const ADDRESS_VARIABLES: Readonly<Record<string, string>> = {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}, written into unit text
  $private_ipv4: "${COREOS_EC2_IPV4_LOCAL}",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}, written into unit text
  $public_ipv4: "${COREOS_EC2_IPV4_PUBLIC}",
};
const ADDRESS_PATTERN = /\$(private|public)_ipv4/g;
/** systemd expands ${VAR} in the command lines of a service only (not in Environment= or sockets). */
const EXEC_KEY = /^Exec(Start|StartPre|StartPost|Stop|StopPost|Reload|Condition)\s*=/;

/** Commands that start a unit that is not running: under Ignition, the unit starts at every boot. */
const STARTING: readonly UnitCommand[] = ["start", "restart", "reload-or-restart"];
/** Commands that act only on a unit already running: nothing runs before Ignition writes the files. */
const ONLY_WHEN_RUNNING: readonly UnitCommand[] = ["reload", "try-restart", "reload-or-try-restart"];

export interface IgnitionConfigs {
  /** Everything in one config. */
  whole: IgnitionConfig;
  /** The part that holds the discovery URL (the etcd drop-in), for a config that merges `inner`. */
  outer: IgnitionConfig;
  /** The rest: `outer` merged with `inner` configures a node exactly as `whole` does. */
  inner: IgnitionConfig;
  notices: string[];
}

/**
 * The Ignition configs for one kind of node. Units are translated from the cloud-config model:
 * content → contents (byte for byte), enable → enabled, mask → mask, drop_ins → dropins. Ignition
 * starts no unit itself, so a unit whose command starts it starts at every boot: through its own
 * [Install] section when it has one and is enabled, else through a link in
 * multi-user.target.wants. Throws UsageError for what Ignition cannot express.
 */
export function ignitionConfigs(parts: BootParts, discoveryUrl: string): IgnitionConfigs {
  const { units, publicKeys, etcd } = parts;
  const fromUser = units.find((u) => u.name === "etcd-member.service");
  const ours = etcd ? etcdDropIn(etcd, discoveryUrl) : undefined;
  const all =
    etcd && ours !== undefined
      ? [...units.filter((u) => u !== fromUser), etcdUnit(etcd, ours, fromUser)]
      : units;

  const problems: Problem[] = [];
  const runtime: string[] = [];
  const idle: string[] = [];
  const notEnabled: string[] = [];
  const links: IgnitionLink[] = [];
  const translated = all.map((unit) => {
    const result = translateUnit(unit, problems);
    if (unit.runtime) runtime.push(unit.name);
    if (unit.command && ONLY_WHEN_RUNNING.includes(unit.command)) idle.push(`${unit.name} (${unit.command})`);
    if (result.enableIgnored) notEnabled.push(unit.name);
    if (result.link) links.push(result.link);
    return result.unit;
  });
  if (problems.length > 0) throw new UsageError(problems);

  const whole: IgnitionConfig = { ignition: { version: IGNITION_VERSION } };
  if (publicKeys.length > 0) whole.passwd = { users: [{ name: "core", sshAuthorizedKeys: [...publicKeys] }] };
  const files = (parts.files ?? []).map(ignitionFile);
  if (files.length > 0 || links.length > 0) {
    whole.storage = { ...(files.length > 0 ? { files } : {}), ...(links.length > 0 ? { links } : {}) };
  }
  if (translated.length > 0) whole.systemd = { units: translated };

  const notices: string[] = [];
  if (runtime.length > 0) {
    notices.push(
      `runtime has no meaning under Ignition (it writes units to /etc before the first boot): ignored for ${runtime.join(", ")}`,
    );
  }
  if (idle.length > 0) {
    notices.push(
      `under Ignition nothing runs before the units are written, so reload and try-restart have nothing to act on: ignored for ${idle.join(", ")}`,
    );
  }
  if (notEnabled.length > 0) {
    notices.push(
      `enable does nothing for a unit without WantedBy=/RequiredBy= in an [Install] section: not enabled: ${notEnabled.join(", ")}`,
    );
  }
  return { whole, ...split(whole, etcd, ours), notices };
}

/** A file as Ignition writes it: its text in a data: URL, gzip-compressed when asked. */
function ignitionFile(file: BootFile): IgnitionFile {
  const contents = file.compress
    ? {
        source: `data:;base64,${gzipSync(file.content, { level: 9 }).toString("base64")}`,
        compression: "gzip",
      }
    : { source: `data:;base64,${Buffer.from(file.content).toString("base64")}` };
  return { path: file.path, mode: file.mode, overwrite: true, contents };
}

/**
 * Cuts our etcd drop-ins out of the whole config into a config of its own: the discovery mode's (it
 * holds the discovery URL) and any that holds the etcd version's marker (the template's EtcdVersion
 * goes there). A config that merges a compressed rest must keep them outside, where a parameter can
 * reach them.
 */
function split(
  whole: IgnitionConfig,
  etcd: EtcdPart | undefined,
  ours: string | undefined,
): { outer: IgnitionConfig; inner: IgnitionConfig } {
  const outer: IgnitionConfig = { ignition: { version: IGNITION_VERSION } };
  const etcdUnitIndex = whole.systemd?.units.findIndex((u) => u.name === "etcd-member.service") ?? -1;
  const unit = whole.systemd?.units[etcdUnitIndex];
  const moved = (d: { name: string; contents: string }) =>
    (etcd !== undefined && d.name === etcd.dropInName && d.contents === ours) ||
    d.contents.includes(ETCD_VERSION_MARKER);
  const dropIns = unit?.dropins?.filter(moved) ?? [];
  if (!unit || dropIns.length === 0 || !whole.systemd) return { outer, inner: whole };
  outer.systemd = {
    units: [
      {
        name: unit.name,
        ...(unit.enabled !== undefined ? { enabled: unit.enabled } : {}),
        dropins: dropIns,
      },
    ],
  };
  const rest = unit.dropins?.filter((d) => !dropIns.includes(d)) ?? [];
  const { dropins: _dropins, ...withoutDropIns } = unit;
  const innerUnit: IgnitionUnit = rest.length > 0 ? { ...withoutDropIns, dropins: rest } : withoutDropIns;
  const units = whole.systemd.units.map((u, i) => (i === etcdUnitIndex ? innerUnit : u));
  return { outer, inner: { ...whole, systemd: { units } } };
}

interface Translated {
  unit: IgnitionUnit;
  link?: IgnitionLink;
  enableIgnored?: boolean;
}

function translateUnit(entry: UnitEntry, problems: Problem[]): Translated {
  const at = (message: string) => problems.push({ argument: `unit ${entry.name}`, message });
  const syntax = [
    ...(entry.content !== undefined ? [{ where: "its content", text: entry.content }] : []),
    ...(entry.drop_ins ?? []).map((d) => ({ where: `drop-in ${d.name}`, text: d.content })),
  ];
  for (const { where, text } of syntax) {
    const problem = unitSyntaxProblem(text);
    if (problem) {
      at(
        `${where}, ${problem}: Ignition refuses the whole config at boot for it (systemd would skip ` +
          "the line); fix the line, or use --provisioning cloud-config",
      );
    }
  }
  const unit: IgnitionUnit = { name: entry.name };
  const texts = addresses(entry, at);
  if (texts.content !== undefined) unit.contents = texts.content;
  if (entry.mask !== undefined) unit.mask = entry.mask;
  if (texts.dropIns.length > 0)
    unit.dropins = texts.dropIns.map((d) => ({ name: d.name, contents: d.content }));

  // A unit without content is one the image ships: its [Install] section is trusted.
  const installs = entry.content === undefined || hasInstallSection(entry.content);
  const result: Translated = { unit };
  if (entry.enable !== undefined) {
    if (entry.enable && !installs) result.enableIgnored = true;
    else unit.enabled = entry.enable;
  }
  if (entry.command === "stop") {
    at(
      "command stop has no Ignition form (nothing runs before Ignition writes the units); to keep the " +
        "unit from running use mask: true or leave it disabled, or use --provisioning cloud-config",
    );
  } else if (entry.command && STARTING.includes(entry.command)) {
    if (entry.mask) at(`a masked unit cannot ${entry.command}: drop mask or the command`);
    else if (!(unit.enabled && installs)) {
      // Started at boot by multi-user.target, as `systemctl enable` would for WantedBy=multi-user.target.
      // The image ships an instance (name@x.service) as its template (name@.service).
      const target =
        entry.content !== undefined
          ? `/etc/systemd/system/${entry.name}`
          : `/usr/lib/systemd/system/${entry.name.replace(/@[^.]*\./, "@.")}`;
      result.link = { path: `/etc/systemd/system/multi-user.target.wants/${entry.name}`, target };
    }
  }
  return result;
}

/**
 * The unit's texts with $private_ipv4 / $public_ipv4 (which coreos-cloudinit substitutes and Ignition
 * does not) turned into coreos-metadata's variables, plus a drop-in that reads them. systemd expands
 * variables only in a service's Exec lines, so anywhere else they are refused.
 */
function addresses(
  entry: UnitEntry,
  at: (message: string) => void,
): { content?: string; dropIns: { name: string; content: string }[] } {
  const dropIns = entry.drop_ins ?? [];
  const texts = [
    ...(entry.content !== undefined ? [{ where: "its content", text: entry.content }] : []),
    ...dropIns.map((d) => ({ where: `drop-in ${d.name}`, text: d.content })),
  ];
  let found = false;
  let needsMetadata = false;
  for (const { where, text } of texts) {
    for (const use of addressUses(text)) {
      found = true;
      // In a comment it does no harm; it is rewritten all the same (no literal $private_ipv4 ships).
      if (use.comment) continue;
      needsMetadata = true;
      if (!entry.name.endsWith(".service") || !use.exec) {
        at(
          `${where} uses ${use.variable} on line ${use.line}${use.key ? ` (${use.key}=)` : ""}, which ` +
            `Ignition does not substitute; systemd expands ${ADDRESS_VARIABLES[use.variable]} from ` +
            "/run/metadata/flatcar only in the Exec lines of a .service (pandacluster rewrites it there): " +
            "move it into an ExecStart= line (e.g. a script given the address), or use --provisioning cloud-config",
        );
      }
    }
  }
  if (!found) return { ...(entry.content !== undefined ? { content: entry.content } : {}), dropIns };
  const rewrite = (text: string) => text.replace(ADDRESS_PATTERN, (m) => ADDRESS_VARIABLES[m] ?? m);
  const name = dropIns.some((d) => d.name === METADATA_DROP_IN) ? `00-${METADATA_DROP_IN}` : METADATA_DROP_IN;
  const metadata = needsMetadata ? [{ name, content: `${METADATA_DEPENDENCY.join("\n")}\n` }] : [];
  return {
    ...(entry.content !== undefined ? { content: rewrite(entry.content) } : {}),
    dropIns: [...dropIns.map((d) => ({ name: d.name, content: rewrite(d.content) })), ...metadata],
  };
}

/** systemd's LINE_MAX, which Ignition's unit parser (go-systemd) holds every line to. */
const UNIT_LINE_MAX = 2048;

/**
 * What Ignition's unit parser (go-systemd's, run by Ignition at boot and by ignition-validate)
 * refuses in a unit's text, where systemd itself only logs and skips the line: a line of 2,048 bytes
 * or more, a section header without its "]", and in a section a line that is not an option
 * (Key=value, continued by a trailing backslash), a comment or blank. Text before the first section
 * is ignored, as the parser does.
 */
export function unitSyntaxProblem(text: string): string | undefined {
  let inSection = false;
  let continued = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    const n = i + 1;
    // A lone CR is a line break to systemd but not to go-systemd: "[Unit]\rDescription=…" is one
    // line to Ignition ("found garbage after section name"), and a config holding it is refused.
    if (line.includes("\r"))
      return `line ${n} holds a carriage return (\\r) not followed by a line feed; Ignition's unit parser takes only \\n (or \\r\\n) as a line break: use \\n line endings`;
    if (Buffer.byteLength(line) >= UNIT_LINE_MAX)
      return `line ${n} is ${Buffer.byteLength(line)} bytes long (at most ${UNIT_LINE_MAX - 1})`;
    if (continued) {
      continued = line.endsWith("\\");
      continue;
    }
    const trimmed = line.trimStart();
    if (trimmed === "") continue;
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) {
      // A comment continues onto the next line with a trailing backslash, as an option does.
      continued = line.endsWith("\\");
      continue;
    }
    if (trimmed.startsWith("[")) {
      if (!trimmed.includes("]"))
        return `line ${n} (${JSON.stringify(trimmed)}) opens a section without closing it`;
      inSection = true;
      continue;
    }
    if (!inSection) continue;
    if (!line.includes("=")) {
      return `line ${n} (${JSON.stringify(trimmed.slice(0, 40))}) is neither a [Section], a Key=value option nor a comment`;
    }
    continued = line.endsWith("\\");
  }
  return undefined;
}

interface AddressUse {
  variable: string;
  /** 1-based */
  line: number;
  /** The key of the (continued) line it is on. */
  key?: string;
  exec: boolean;
  comment: boolean;
}

/** Each use of an address variable in a unit's text. */
function addressUses(text: string): AddressUse[] {
  const uses: AddressUse[] = [];
  let key: string | undefined;
  let comment = false;
  let continued = false;
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    if (!continued) {
      comment = /^\s*[#;]/.test(line);
      key = comment ? undefined : /^\s*([A-Za-z][A-Za-z0-9]*)\s*=/.exec(line)?.[1];
    }
    for (const match of line.matchAll(ADDRESS_PATTERN)) {
      const exec = key !== undefined && EXEC_KEY.test(`${key}=`);
      uses.push({ variable: match[0], line: index + 1, ...(key ? { key } : {}), exec, comment });
    }
    continued = !comment && line.endsWith("\\");
  });
  return uses;
}

/**
 * etcd-member.service's drop-in, in Flatcar's documented form for Ignition (Flatcar's "Cluster
 * discovery" guide): it requires coreos-metadata.service and reads /run/metadata/flatcar. systemd
 * expands ${COREOS_EC2_IPV4_LOCAL} only in command lines, not in Environment=, so the settings that
 * hold the address are flags on etcd-wrapper's ExecStart (replacing the unit's own, as the guide
 * does); the others, the discovery URL among them, are ETCD_* variables, which reach etcd too.
 */
export function etcdDropIn(etcd: EtcdPart, discoveryUrl: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${…}, written into unit text
  const ip = "${COREOS_EC2_IPV4_LOCAL}";
  const settings = Object.entries(etcd.settings(ip, discoveryUrl));
  const environment = settings.filter(([, value]) => !value.includes(ip));
  const flags = settings.filter(([, value]) => value.includes(ip));
  const lines = [...METADATA_DEPENDENCY];
  for (const [flag, value] of environment) lines.push(`Environment="${etcdVariable(flag)}=${value}"`);
  for (const [name, value] of Object.entries(etcd.environment ?? {}))
    lines.push(`Environment="${name}=${value}"`);
  if (flags.length > 0) {
    lines.push("ExecStart=", "ExecStart=/usr/lib/coreos/etcd-wrapper $ETCD_OPTS \\");
    flags.forEach(([flag, value], i) => {
      lines.push(`  --${flag}=${value}${i < flags.length - 1 ? " \\" : ""}`);
    });
  }
  return `${lines.join("\n")}\n`;
}
