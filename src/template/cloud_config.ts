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
  const doc = new Document(config);
  // lineWidth 0: never fold a long line; unit text reaches the node as it was written.
  const text = `#cloud-config\n${doc.toString({ lineWidth: 0, minContentWidth: 0 })}`;
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
