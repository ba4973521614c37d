import { UsageError } from "../errors.js";
import type { Provisioning } from "../options.js";
import { type BootUserData, bootUserData, type DiscoveryContext } from "./boot.js";
import type { BootFile } from "./boot_parts.js";
import { withRef } from "./refs.js";
import type { UnitEntry } from "./units.js";

/**
 * Workers: nodes that run no etcd member. They get the user's units and SSH keys like every node,
 * not etcd-member.service (neither ours nor one the units file configures), and one unit of ours
 * that points them at the controllers' etcd through the cluster's private zone:
 * ETCDCTL_ENDPOINTS=http://etcd.<PrivateDomain>:2379 in /etc/environment (etcdctl reads it; units
 * read it with EnvironmentFile=/etc/environment). etcd.<zone> is the A record that lists every
 * controller, kept by create, scale and sync.
 */
export const WORKER_ETCD_UNIT = "pandacluster-etcd-endpoints.service";

/**
 * The etcd client URLs a worker uses, for a zone (a Ref in the template): with static controllers
 * each slot's name (etcd-1.<zone>…, which always name the members), else etcd.<zone>.
 */
export function etcdEndpoints(zone: string, slots?: number): string {
  if (slots === undefined) return `http://etcd.${zone}:2379`;
  return Array.from({ length: slots }, (_, i) => `http://etcd-${i + 1}.${zone}:2379`).join(",");
}

/** The unit that writes ETCDCTL_ENDPOINTS into /etc/environment (replacing an older line). */
export function etcdEndpointsUnit(zone: string, slots?: number): UnitEntry {
  const line = `ETCDCTL_ENDPOINTS=${etcdEndpoints(zone, slots)}`;
  return {
    name: WORKER_ETCD_UNIT,
    command: "start",
    enable: true,
    content: [
      "[Unit]",
      `Description=pandacluster: reach etcd at ${slots === undefined ? "etcd" : "etcd-1…"}.${zone} (ETCDCTL_ENDPOINTS in /etc/environment)`,
      "Before=docker.service",
      "",
      "[Service]",
      "Type=oneshot",
      "RemainAfterExit=yes",
      `ExecStart=/bin/sh -c 'touch /etc/environment && sed -i "/^ETCDCTL_ENDPOINTS=/d" /etc/environment && echo ${line} >> /etc/environment'`,
      "",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"),
  };
}

/**
 * The workers' LaunchTemplate UserData in the cluster's boot format (Ignition or cloud-config, see
 * boot.ts): the user's units without etcd-member.service, the SSH keys, and the endpoints unit.
 *
 * The zone: when `zone` is known (create knows the cluster's private domain) it is written in;
 * otherwise (build-template) {Ref: PrivateDomain} goes where it belongs (Fn::Join, every other byte
 * copied as written). A config so big that it is compressed cannot hold a Ref inside: Ignition then
 * keeps the endpoints unit in the small outer config that merges the compressed rest; a compressed
 * cloud-config needs the zone known (as it needs the discovery URL known, see boot.ts).
 */
export function workerBootUserData(
  units: UnitEntry[],
  publicKeys: string[],
  provisioning: Provisioning,
  discovery: DiscoveryContext,
  zone?: string,
  parameter = "PrivateDomain",
  slots?: number,
  files: BootFile[] = [],
): BootUserData {
  const userUnits = units.filter((u) => u.name !== "etcd-member.service");
  if (zone)
    return bootUserData(
      { units: [...userUnits, etcdEndpointsUnit(zone, slots)], publicKeys, files },
      provisioning,
      discovery,
    );
  let marker = "";
  for (let n = 0; !marker || JSON.stringify(userUnits).includes(marker); n++) {
    marker = `pandacluster-${parameter.toLowerCase()}${n === 0 ? "" : `-${n}`}.invalid`;
  }
  const boot = bootUserData(
    { units: [...userUnits, etcdEndpointsUnit(marker, slots)], publicKeys, files },
    provisioning,
    discovery,
  );
  const value = withRef(boot.value, marker, parameter);
  if (!JSON.stringify(value).includes(marker) && JSON.stringify(value).includes(`"Ref":"${parameter}"`)) {
    return { ...boot, value };
  }
  if (provisioning === "ignition") {
    // Compressed: build the rest without the endpoints unit and add the unit to the outer config.
    const rest = bootUserData({ units: userUnits, publicKeys, files }, provisioning, discovery);
    const text = (rest.value as { "Fn::Base64"?: unknown })["Fn::Base64"];
    if (typeof text === "string") {
      const outer = JSON.parse(text) as { systemd?: { units: unknown[] } };
      const unit = etcdEndpointsUnit(marker, slots);
      outer.systemd = {
        units: [...(outer.systemd?.units ?? []), { name: unit.name, enabled: true, contents: unit.content }],
      };
      return { ...rest, value: withRef({ "Fn::Base64": JSON.stringify(outer) }, marker, parameter) };
    }
  }
  throw new UsageError(
    `the workers' ${provisioning} user data is ${boot.report.plain_bytes} bytes and has to be compressed, ` +
      "and compressed it cannot take the template's PrivateDomain parameter: use --provisioning ignition " +
      "(the default), or let `pandacluster create` build the template (it knows the cluster's zone)",
  );
}
