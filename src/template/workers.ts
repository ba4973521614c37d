import { Document } from "yaml";
import { unitObject } from "./cloud_config.js";
import type { CfnValue } from "./types.js";
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

/** The etcd client URL a worker uses, for a zone (a Ref in the template). */
export function etcdEndpoints(zone: string): string {
  return `http://etcd.${zone}:2379`;
}

/** The unit that writes ETCDCTL_ENDPOINTS into /etc/environment (replacing an older line). */
export function etcdEndpointsUnit(zone: string): UnitEntry {
  const line = `ETCDCTL_ENDPOINTS=${etcdEndpoints(zone)}`;
  return {
    name: WORKER_ETCD_UNIT,
    command: "start",
    enable: true,
    content: [
      "[Unit]",
      `Description=pandacluster: reach etcd at etcd.${zone} (ETCDCTL_ENDPOINTS in /etc/environment)`,
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

/** A worker's cloud-config text for a zone name (or a marker standing for one). */
export function workerCloudConfigText(units: UnitEntry[], publicKeys: string[], zone: string): string {
  const all = [...units.filter((u) => u.name !== "etcd-member.service"), etcdEndpointsUnit(zone)];
  const config: Record<string, unknown> = {};
  if (publicKeys.length > 0) config.ssh_authorized_keys = publicKeys;
  config.coreos = { units: all.map(unitObject) };
  return `#cloud-config\n${new Document(config).toString({ lineWidth: 0, minContentWidth: 0 })}`;
}

/**
 * The workers' LaunchTemplate UserData: their cloud-config with {Ref: PrivateDomain} put in place
 * of a marker by CloudFormation (Fn::Join, so every other byte is copied as written).
 */
export function workerUserData(
  units: UnitEntry[],
  publicKeys: string[],
  parameter = "PrivateDomain",
): CfnValue {
  return joinedWithRef((marker) => workerCloudConfigText(units, publicKeys, marker), parameter);
}

/** Builds a text with a marker no user text contains, and joins its pieces with the Ref. */
export function joinedWithRef(build: (marker: string) => string, parameter: string): CfnValue {
  for (let n = 0; ; n++) {
    const marker = `@@pandacluster-${parameter.toLowerCase()}${n === 0 ? "" : `-${n}`}@@`;
    const probe = build("");
    if (probe.includes(marker)) continue;
    const parts = build(marker).split(marker);
    const joined: CfnValue[] = [];
    parts.forEach((part, i) => {
      if (i > 0) joined.push({ Ref: parameter });
      if (part) joined.push(part);
    });
    return { "Fn::Base64": { "Fn::Join": ["", joined] } };
  }
}
