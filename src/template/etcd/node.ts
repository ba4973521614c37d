import { readFileSync } from "node:fs";
import { packagePath } from "../../paths.js";
import type { BootFile } from "../boot_parts.js";
import type { UnitEntry } from "../units.js";
import { DEFAULT_ETCD_VERSION, etcdImageTag } from "./version.js";

/**
 * The node side of a static controller (doc/etcd.md): one script and three units, the same in both
 * boot formats. Nothing in them depends on the stack: the slot, the volume, the zone and the cluster's
 * size come from the instance's tags at boot (pandacluster-etcd.sh), so the one launch template
 * serves every slot and its user data holds no CloudFormation reference.
 *
 * The interface other code (and the real-etcd harness) relies on:
 *   NODE_SCRIPT_PATH   the script, `prepare` | `ready` | one step (see its header)
 *   STATIC_ENV_PATH    etcd's settings fixed at build time (data dir, paths), KEY=value lines
 *   RUN_ENV_PATH       etcd's settings for this boot, written by `prepare` (name, initial cluster…)
 *   PREPARE_UNIT       runs `prepare` before etcd-member.service (which Requires it)
 *   READY_UNIT         runs `ready` at every boot: promotes a learner, signals CloudFormation
 *   ETCD_DROP_IN       etcd-member.service's drop-in: the image tag and the two environment files
 *
 * The image tag (the etcd version) is the one setting that changes on a running cluster (`upgrade
 * --etcd-version`): it is in the drop-in's text, where the template puts its EtcdVersion parameter
 * (build.ts), not in the files, which Ignition writes base64-encoded.
 */
export const NODE_SCRIPT_PATH = "/opt/pandacluster/bin/pandacluster-etcd";
export const STATIC_ENV_PATH = "/etc/pandacluster/etcd.env";
export const RUN_DIR = "/run/pandacluster-etcd";
export const RUN_ENV_PATH = `${RUN_DIR}/etcd.env`;
export const PREPARE_UNIT = "pandacluster-etcd-prepare.service";
export const READY_UNIT = "pandacluster-etcd-ready.service";
export const ETCD_DROP_IN = "20-pandacluster.conf";
/** Where the slot's volume is mounted, and etcd's data directory on it. */
export const ETCD_MOUNT = "/var/lib/etcd";
export const ETCD_DATA_DIR = `${ETCD_MOUNT}/data`;

/** The script's source, shipped with the package (src/template/etcd/pandacluster-etcd.sh). */
export const NODE_SCRIPT_SOURCE = packagePath("src", "template", "etcd", "pandacluster-etcd.sh");

let script: string | undefined;

/**
 * The node script as the nodes get it (read once): without its comment lines and indentation, which
 * cost user data (EC2's 16,384 bytes) and nothing else — bash reads it the same (its here-documents
 * start in the first column). The commented source is src/template/etcd/pandacluster-etcd.sh.
 */
export function nodeScript(): string {
  script ??= minified(readFileSync(NODE_SCRIPT_SOURCE, "utf8"));
  return script;
}

function minified(text: string): string {
  const lines = text.split("\n");
  const [shebang, ...rest] = lines;
  const kept = rest
    .map((line) => line.replace(/^\s+/, ""))
    .filter((line) => line !== "" && !line.startsWith("#"));
  return `${[shebang, "# pandacluster-etcd: see doc/etcd.md (the commented source is in pandacluster's package)", ...kept].join("\n")}\n`;
}

/** etcd's settings fixed when the template is built: where the data lives. */
export function staticEtcdEnv(): string {
  return [
    `ETCD_DATA_DIR=${ETCD_DATA_DIR}`,
    `PANDACLUSTER_ETCD_MOUNT=${ETCD_MOUNT}`,
    `PANDACLUSTER_ETCD_RUN_DIR=${RUN_DIR}`,
    "",
  ].join("\n");
}

/** The files a static controller boots with: the script and etcd's fixed settings. */
export function staticEtcdFiles(): BootFile[] {
  return [
    { path: NODE_SCRIPT_PATH, mode: 0o755, content: nodeScript(), compress: true },
    { path: STATIC_ENV_PATH, mode: 0o644, content: staticEtcdEnv() },
  ];
}

/**
 * A oneshot unit that runs one step of the node script. No start timeout: the step waits, saying
 * why, for as long as it must (prepare: no quorum to join yet; ready: a member not healthy yet).
 */
function nodeScriptUnit(description: string, step: "prepare" | "ready", order: string[]): string {
  return [
    "[Unit]",
    `Description=pandacluster: ${description}`,
    "Documentation=https://github.com/pandacluster/pandacluster/blob/main/doc/etcd.md",
    "Wants=network-online.target",
    "After=network-online.target",
    ...order,
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    "TimeoutStartSec=infinity",
    `EnvironmentFile=${STATIC_ENV_PATH}`,
    `ExecStart=${NODE_SCRIPT_PATH} ${step}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const PREPARE = nodeScriptUnit("this controller's etcd slot (volume, DNS name, membership)", "prepare", [
  "Before=etcd-member.service",
]);

// Not ordered after etcd-member.service (Type=notify, no start timeout): it watches etcd itself, so
// that a member that never becomes healthy still signals FAILURE with its reason.
const READY = nodeScriptUnit("wait for this etcd member, promote it, signal CloudFormation", "ready", []);

/**
 * etcd-member.service's drop-in: after the slot is prepared, with its settings. `version` is the
 * etcd release, or the marker the template replaces with its EtcdVersion parameter.
 */
export function etcdDropInText(version: string): string {
  return [
    "[Unit]",
    `Requires=${PREPARE_UNIT}`,
    `After=${PREPARE_UNIT}`,
    "",
    "[Service]",
    // Overrides the unit's own ETCD_IMAGE_TAG (the release Flatcar pins) for etcd-wrapper.
    `Environment="ETCD_IMAGE_TAG=${etcdImageTag(version)}"`,
    // Both override the unit's own Environment= (ETCD_NAME=%m, ETCD_DATA_DIR=/var/lib/etcd).
    `EnvironmentFile=${STATIC_ENV_PATH}`,
    `EnvironmentFile=${RUN_ENV_PATH}`,
    "",
  ].join("\n");
}

/** The drop-in with the default etcd version (kept for code that read it before the version moved). */
export const ETCD_DROP_IN_TEXT = etcdDropInText(DEFAULT_ETCD_VERSION);

/**
 * The units of a static controller: the user's units (their etcd-member.service entry merged with
 * ours: a drop-in of theirs named like ours replaces it), then the prepare unit, etcd-member.service
 * and the ready unit.
 */
export function staticEtcdUnits(userUnits: UnitEntry[], version: string): UnitEntry[] {
  const fromUser = userUnits.find((u) => u.name === "etcd-member.service");
  const theirs = fromUser?.drop_ins ?? [];
  const etcd: UnitEntry = {
    enable: true,
    command: "start",
    ...fromUser,
    name: "etcd-member.service",
    drop_ins: [
      ...(theirs.some((d) => d.name === ETCD_DROP_IN)
        ? []
        : [{ name: ETCD_DROP_IN, content: etcdDropInText(version) }]),
      ...theirs,
    ],
  };
  const ours = new Set([PREPARE_UNIT, READY_UNIT, "etcd-member.service"]);
  return [
    ...userUnits.filter((u) => !ours.has(u.name)),
    { name: PREPARE_UNIT, enable: true, command: "start", content: PREPARE },
    etcd,
    { name: READY_UNIT, enable: true, command: "start", content: READY },
  ];
}
