import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import {
  type BootFile,
  type BootParts,
  type EtcdPart,
  etcdUnit,
  etcdVariable,
  keepsEtcdDropIn,
} from "./boot_parts.js";
import type { UnitEntry } from "./units.js";

// yaml is loaded only when a cloud-config is written: it costs Ignition builds a fifth of their start-up.
const require = createRequire(import.meta.url);

// Kept exported from here too: they were defined in this file before boot_parts.ts.
export { etcdUnit, etcdVariable, keepsEtcdDropIn };

/**
 * The drop-in that makes Flatcar's etcd-member.service bootstrap from the discovery URL and advertise
 * the node's private address. coreos-cloudinit replaces $private_ipv4 on EC2; etcd-member.service
 * itself names each member after its machine id (ETCD_NAME=%m), so no name is set here.
 */
export function etcdDropIn(etcd: EtcdPart, discoveryUrl: string): string {
  const settings = etcd.settings("$private_ipv4", discoveryUrl);
  return [
    "[Service]",
    ...Object.entries(settings).map(([flag, value]) => `Environment="${etcdVariable(flag)}=${value}"`),
    ...Object.entries(etcd.environment ?? {}).map(([name, value]) => `Environment="${name}=${value}"`),
    "",
  ].join("\n");
}

/**
 * The cloud-config text, written by the yaml package (never by hand). Keys are written with
 * underscores only (drop_ins): since Flatcar 3975.2.0 coreos-cloudinit ignores hyphenated keys.
 * The units come first, etcd-member.service last, so that units ordered before docker.service (the
 * /var/lib/docker mount) are queued before etcd's container pulls Docker up.
 */
export function cloudConfigText(parts: BootParts, discoveryUrl: string): string {
  const { units, publicKeys, etcd } = parts;
  const fromUser = units.find((u) => u.name === "etcd-member.service");
  const all = etcd
    ? [...units.filter((u) => u !== fromUser), etcdUnit(etcd, etcdDropIn(etcd, discoveryUrl), fromUser)]
    : units;
  const config: Record<string, unknown> = {};
  if (publicKeys.length > 0) config.ssh_authorized_keys = publicKeys;
  if (parts.files?.length) config.write_files = parts.files.map(writeFile);
  config.coreos = { units: all.map(unitObject) };
  const { Document } = require("yaml") as typeof import("yaml");
  const quoted = new Map<string, string>();
  const doc = new Document(yaml11Safe(config, quoted));
  // lineWidth 0: never fold a long line; unit text reaches the node as it was written.
  let text = `#cloud-config\n${doc.toString({ lineWidth: 0, minContentWidth: 0 })}`;
  for (const [marker, scalar] of quoted) {
    if (text.split(marker).length !== 2)
      throw new Error("internal: a quoted scalar's marker is not in the text once");
    text = text.replace(marker, () => scalar);
  }
  if (
    keepsEtcdDropIn(parts) &&
    !literalLine(text, `Environment="${etcdVariable("discovery")}=${discoveryUrl}"`)
  ) {
    // The URL must sit in the drop-in's literal block, where any URL the parameter allows is safe.
    throw new Error("internal: the etcd drop-in was not written as a literal block");
  }
  return text;
}

/**
 * A write_files entry. coreos-cloudinit writes it before it handles the units; a compressed file is
 * gzip+base64 (an encoding coreos-cloudinit reads).
 */
function writeFile(file: BootFile): Record<string, unknown> {
  const permissions = `0${file.mode.toString(8)}`;
  if (!file.compress) return { path: file.path, permissions, content: file.content };
  const content = gzipSync(file.content, { level: 9 }).toString("base64");
  return { path: file.path, permissions, encoding: "gzip+base64", content };
}

function literalLine(text: string, line: string): boolean {
  return text.split("\n").some((l) => l.trimStart() === line && l.startsWith(" "));
}

function unitObject(unit: UnitEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: unit.name };
  for (const key of ["command", "enable", "runtime", "mask", "content"] as const) {
    if (unit[key] !== undefined) out[key] = unit[key];
  }
  if (unit.drop_ins?.length) out.drop_ins = unit.drop_ins.map((d) => ({ name: d.name, content: d.content }));
  return out;
}

/**
 * Characters a YAML 1.1 reader (coreos-cloudinit's go-yaml, PyYAML) takes as line breaks (NEL U+0085,
 * LS U+2028, PS U+2029, CR) or refuses outside an escape (C0 and C1 controls but tab and line feed,
 * DEL, the byte-order mark, U+FFFE/U+FFFF, lone surrogates). The yaml package writes YAML 1.2, where
 * some of them are ordinary characters, and would leave them raw: one U+2028 in a unit made the
 * whole cloud-config unreadable to coreos-cloudinit.
 */
const YAML11_UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A YAML 1.1 double-quoted scalar for the text: every character YAML 1.1 may misread escaped. */
export function yaml11Quoted(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ch = text[i] as string;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (code >= 0xd800 && code <= 0xdbff && /[\udc00-\udfff]/.test(text[i + 1] ?? "")) {
      out += ch + text[i + 1];
      i++;
    } else if (YAML11_UNSAFE.test(ch) || (code >= 0xd800 && code <= 0xdfff))
      out +=
        code <= 0xff
          ? `\\x${code.toString(16).padStart(2, "0")}`
          : `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * The config with every string that holds such a character replaced by a marker, which is replaced
 * after writing by the string as a YAML 1.1 double-quoted scalar (`quoted`: marker → scalar).
 */
function yaml11Safe(value: unknown, quoted: Map<string, string>): unknown {
  if (typeof value === "string") {
    if (!YAML11_UNSAFE.test(value)) return value;
    // node:crypto only here: an Ignition build, or a cloud-config without such text, never loads it.
    const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
    const marker = `pandacluster-yaml11-scalar-${quoted.size}-${randomBytes(8).toString("hex")}`;
    quoted.set(marker, yaml11Quoted(value));
    return marker;
  }
  if (Array.isArray(value)) return value.map((v) => yaml11Safe(v, quoted));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, yaml11Safe(v, quoted)]));
  return value;
}
