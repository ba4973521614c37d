import { Document } from "yaml";
import type { CfnValue } from "./types.js";
import type { UnitEntry } from "./units.js";

/** The etcd drop-in's name on every node: /etc/systemd/system/etcd-member.service.d/20-cluster.conf. */
export const ETCD_DROP_IN = "20-cluster.conf";

/**
 * The drop-in that makes Flatcar's etcd-member.service bootstrap from the discovery URL and advertise
 * the node's private address. coreos-cloudinit replaces $private_ipv4 on EC2; etcd-member.service
 * itself names each member after its machine id (ETCD_NAME=%m), so no name is set here.
 */
export function etcdDropIn(discoveryUrl: string): string {
  return [
    "[Service]",
    `Environment="ETCD_DISCOVERY=${discoveryUrl}"`,
    'Environment="ETCD_ADVERTISE_CLIENT_URLS=http://$private_ipv4:2379"',
    'Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$private_ipv4:2380"',
    'Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379"',
    'Environment="ETCD_LISTEN_PEER_URLS=http://$private_ipv4:2380"',
    "",
  ].join("\n");
}

/** The unit entry for etcd-member.service, merged with one the units file may have for it. */
export function etcdUnit(discoveryUrl: string, fromUser?: UnitEntry): UnitEntry {
  const ours = { name: ETCD_DROP_IN, content: etcdDropIn(discoveryUrl) };
  const theirs = fromUser?.drop_ins ?? [];
  return {
    enable: true,
    command: "start",
    ...fromUser,
    name: "etcd-member.service",
    // A drop-in of the user's with the same name replaces ours.
    drop_ins: [...(theirs.some((d) => d.name === ETCD_DROP_IN) ? [] : [ours]), ...theirs],
  };
}

/**
 * The cloud-config text, written by the yaml package (never by hand). Keys are written with
 * underscores only (drop_ins): since Flatcar 3975.2.0 coreos-cloudinit ignores hyphenated keys.
 * The units come first, etcd-member.service last, so that units ordered before docker.service (the
 * /var/lib/docker mount) are queued before etcd's container pulls Docker up.
 */
export function cloudConfigText(units: UnitEntry[], publicKeys: string[], discoveryUrl: string): string {
  const etcd = units.find((u) => u.name === "etcd-member.service");
  const all = [...units.filter((u) => u !== etcd), etcdUnit(discoveryUrl, etcd)];
  const config: Record<string, unknown> = {};
  if (publicKeys.length > 0) config.ssh_authorized_keys = publicKeys;
  config.coreos = { units: all.map(unitObject) };
  const doc = new Document(config);
  // lineWidth 0: never fold a long line; unit text reaches the node as it was written.
  return `#cloud-config\n${doc.toString({ lineWidth: 0, minContentWidth: 0 })}`;
}

export function unitObject(unit: UnitEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: unit.name };
  for (const key of ["command", "enable", "runtime", "mask", "content"] as const) {
    if (unit[key] !== undefined) out[key] = unit[key];
  }
  if (unit.drop_ins?.length) out.drop_ins = unit.drop_ins.map((d) => ({ name: d.name, content: d.content }));
  return out;
}

/**
 * The LaunchTemplate's UserData: the cloud-config with the DiscoveryURL parameter put in its place by
 * CloudFormation. The text is cut around a marker and joined with {Ref: DiscoveryURL} (Fn::Join, not
 * Fn::Sub), so CloudFormation copies every other byte as it is: `${…}` in a unit stays `${…}`.
 */
export function userData(units: UnitEntry[], publicKeys: string[], parameter = "DiscoveryURL"): CfnValue {
  const { text, marker } = withUniqueMarker((m) => cloudConfigText(units, publicKeys, m));
  const [before, after] = text.split(marker) as [string, string];
  return { "Fn::Base64": { "Fn::Join": ["", [before, { Ref: parameter }, after]] } };
}

/** Builds the text with a marker that occurs in it exactly once (never in the user's own text). */
function withUniqueMarker(build: (marker: string) => string): { text: string; marker: string } {
  for (let n = 0; ; n++) {
    const marker = `@@pandacluster-discovery-url${n === 0 ? "" : `-${n}`}@@`;
    const text = build(marker);
    const parts = text.split(marker);
    if (parts.length !== 2) continue;
    // The marker must sit in the drop-in's literal block, where any URL the parameter allows is safe.
    const line = new RegExp(`^ +Environment="ETCD_DISCOVERY=${marker}"$`, "m");
    if (!line.test(text)) throw new Error("internal: the etcd drop-in was not written as a literal block");
    return { text, marker };
  }
}
