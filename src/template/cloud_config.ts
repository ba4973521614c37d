import { createRequire } from "node:module";
import type { BootParts, EtcdPart } from "./boot.js";
import type { UnitEntry } from "./units.js";

// yaml is loaded only when a cloud-config is written: it costs Ignition builds a fifth of their start-up.
const require = createRequire(import.meta.url);

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
    "",
  ].join("\n");
}

/** etcd's environment variable for a flag: advertise-client-urls → ETCD_ADVERTISE_CLIENT_URLS. */
export function etcdVariable(flag: string): string {
  return `ETCD_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The unit entry for etcd-member.service, merged with one the units file may have for it. `ours` is
 * the drop-in's text in the format at hand.
 */
export function etcdUnit(etcd: EtcdPart, ours: string, fromUser?: UnitEntry): UnitEntry {
  const theirs = fromUser?.drop_ins ?? [];
  return {
    enable: true,
    command: "start",
    ...fromUser,
    name: "etcd-member.service",
    // A drop-in of the user's with the same name replaces ours.
    drop_ins: [
      ...(theirs.some((d) => d.name === etcd.dropInName) ? [] : [{ name: etcd.dropInName, content: ours }]),
      ...theirs,
    ],
  };
}

/** Whether the boot config holds our etcd drop-in (a user's drop-in of the same name replaces it). */
export function keepsEtcdDropIn(parts: BootParts): boolean {
  const { etcd } = parts;
  if (!etcd) return false;
  return !parts.units.some(
    (u) => u.name === "etcd-member.service" && u.drop_ins?.some((d) => d.name === etcd.dropInName),
  );
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
  // coreos-cloudinit writes these before it handles the units; permissions as an octal string.
  if (parts.files?.length) {
    config.write_files = parts.files.map((f) => ({
      path: f.path,
      permissions: `0${f.mode.toString(8)}`,
      content: f.contents,
    }));
  }
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
