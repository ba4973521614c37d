import type { UnitEntry } from "./units.js";

/**
 * What one kind of node boots with, shared by both boot formats (ignition.ts, cloud_config.ts) and
 * the measuring in boot.ts; it sits below all three so that none imports another in a circle.
 */

/**
 * What one kind of node boots with: the user's units, the SSH keys for user core, files to write
 * (scripts, settings), and how the node runs etcd-member.service from a discovery URL (undefined:
 * no discovery-URL drop-in; static controllers bring etcd-member.service's units and drop-in as
 * plain units and files, see etcd/node.ts).
 */
export interface BootParts {
  units: UnitEntry[];
  publicKeys: string[];
  etcd?: EtcdPart;
  files?: BootFile[];
}

/** A file the boot config writes (Ignition storage.files; cloud-config write_files). */
export interface BootFile {
  path: string;
  /** Permission bits, e.g. 0o755. */
  mode: number;
  content: string;
  /** Written gzip-compressed (base64) into the config: for scripts, whose text compresses well. */
  compress?: boolean;
}

/**
 * etcd-member.service's part of a boot config in the discovery mode. `settings` gives etcd's flags
 * by name (without the dashes), given how the format writes the node's private IPv4 address and the
 * discovery URL; each format turns them into a drop-in its own way (cloud-config: ETCD_* Environment=
 * lines with $private_ipv4; Ignition: ${COREOS_EC2_IPV4_LOCAL} from coreos-metadata, see ignition.ts).
 */
export interface EtcdPart {
  /** The drop-in's file name under /etc/systemd/system/etcd-member.service.d/. */
  dropInName: string;
  settings(privateIpv4: string, discoveryUrl: string): Record<string, string>;
  /** Extra Environment= lines of the drop-in (the pinned image tag). */
  environment?: Record<string, string>;
}

/** An etcd member bootstrapped from the discovery URL, reachable on the node's private address. */
export const etcdMember: EtcdPart = {
  dropInName: "20-cluster.conf",
  settings: (ip, discoveryUrl) => ({
    discovery: discoveryUrl,
    "advertise-client-urls": `http://${ip}:2379`,
    "initial-advertise-peer-urls": `http://${ip}:2380`,
    "listen-client-urls": "http://0.0.0.0:2379",
    "listen-peer-urls": `http://${ip}:2380`,
  }),
};

/**
 * Where the etcd version goes in a controller's boot config while it is built: the template then
 * cuts it out and puts its EtcdVersion parameter there (build.ts, refs.ts), so that an UpdateStack
 * with a new EtcdVersion (upgrade --etcd-version) gives the controllers a new launch template
 * version. Letters, digits and dashes only: it survives JSON, YAML and unit text as it is.
 */
export const ETCD_VERSION_MARKER = "pandacluster-etcd-version-marker";

/** etcd's environment variable for a flag: advertise-client-urls → ETCD_ADVERTISE_CLIENT_URLS. */
export function etcdVariable(flag: string): string {
  return `ETCD_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The unit entry for etcd-member.service, merged with one the units file may have for it. `ours` is
 * the drop-in's text in the format at hand, named `dropInName`.
 */
export function etcdUnit(etcd: Pick<EtcdPart, "dropInName">, ours: string, fromUser?: UnitEntry): UnitEntry {
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
