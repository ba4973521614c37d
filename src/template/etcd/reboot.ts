import type { BootFile } from "../boot_parts.js";
import type { UnitEntry } from "../units.js";

/**
 * Reboots after Flatcar updates (issue 15, point 5): never two controllers down together.
 *
 * Flatcar's update engine downloads an update to the passive partition and then leaves the reboot
 * to locksmithd, whose default strategy with etcd running is `etcd-lock`, which speaks etcd's v2
 * API and does not work with etcd 3.5. So on controllers locksmithd is told to do nothing
 * (REBOOT_STRATEGY=off in /etc/flatcar/update.conf) and a timer of ours reboots instead, one
 * controller at a time, with a lock in etcd v3 itself:
 *
 *   1. the update engine says UPDATE_STATUS_UPDATED_NEED_REBOOT (update_engine_client -status);
 *   2. the node takes the lock: a key created in a transaction only if it does not exist, bound to
 *      a lease (LOCK_TTL_S) — a node that dies or never comes back frees it by the lease's expiry;
 *   3. with the lock held, it waits (HEALTH_WAIT_S at most) until the cluster has all its members
 *      started, voting and healthy; otherwise it lets the lock go and tries at the next tick;
 *   4. it reboots, the lease's id kept on disk; after the boot the release unit waits until the
 *      cluster is whole and healthy again (this member with it) and revokes the lease.
 *
 * The lock is only half of it: step 3 is what keeps a node from rebooting while another is still
 * down, even when that other one's lease has expired. Workers run no etcd member and keep
 * locksmithd's plain `reboot` strategy inside a weekly window (WORKER_REBOOT_WINDOW).
 */

export interface RebootParts {
  units: UnitEntry[];
  files: BootFile[];
}

/** The key the reboot lock lives at (outside any prefix applications are likely to use). */
export const REBOOT_LOCK_KEY = "/pandacluster/reboot-lock";
/** Longer than a Flatcar reboot takes (a few minutes): the lock outlives a slow boot, not a dead node. */
export const LOCK_TTL_S = 1800;
/** How long a node holding the lock waits for a whole, healthy cluster before letting it go. */
export const HEALTH_WAIT_S = 600;
/** How often the timer looks for an applied update (after a first look 5 minutes after boot). */
export const CHECK_INTERVAL = "5min";
/** Workers: locksmithd's own window (a day and time in the node's zone, UTC on Flatcar, and a length). */
export const WORKER_REBOOT_WINDOW = { start: "Sun 04:00", length: "3h" } as const;

export const REBOOT_SCRIPT = "/opt/pandacluster/bin/etcd-reboot";
export const REBOOT_STATE = "/var/lib/pandacluster/reboot-lease";
export const REBOOT_SERVICE = "pandacluster-etcd-reboot.service";
export const REBOOT_TIMER = "pandacluster-etcd-reboot.timer";
export const RELEASE_SERVICE = "pandacluster-etcd-reboot-release.service";
export const UPDATE_CONF = "/etc/flatcar/update.conf";

/**
 * The script both units run: `etcd-reboot check` (the timer) and `etcd-reboot release` (at boot).
 * It reaches etcd on this node's own client URL (the private IPv4 coreos-metadata writes), with
 * the host's etcdctl. The expected member count is ETCD_INITIAL_CLUSTER's (the static membership
 * the node booted with) when the environment file gives it, else PANDACLUSTER_ETCD_MEMBERS, else
 * every listed member must be healthy.
 */
export function rebootScript(): string {
  return `#!/bin/bash
# pandacluster: reboot this controller for a Flatcar update, one controller at a time (see ${REBOOT_SERVICE}).
set -uo pipefail
. /run/metadata/flatcar
ENDPOINT="http://\${COREOS_EC2_IPV4_LOCAL}:2379"
HOLDER="\${COREOS_EC2_INSTANCE_ID:-unknown} \${COREOS_EC2_IPV4_LOCAL}"
LOCK=${REBOOT_LOCK_KEY}
STATE=${REBOOT_STATE}
TTL=\${PANDACLUSTER_REBOOT_LOCK_TTL:-${LOCK_TTL_S}}
WAIT=\${PANDACLUSTER_REBOOT_HEALTH_WAIT:-${HEALTH_WAIT_S}}
STEP=\${PANDACLUSTER_REBOOT_STEP:-5}
# The member's run environment (read for ETCD_INITIAL_CLUSTER) also sets ETCDCTL_ENDPOINTS, which
# etcdctl refuses beside --endpoints ("conflicting environment variable").
unset ETCDCTL_ENDPOINTS
say() { echo "etcd-reboot: $*"; }
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$ENDPOINT" --dial-timeout=3s --command-timeout=10s "$@"; }

expected() {
  if [ -n "\${ETCD_INITIAL_CLUSTER:-}" ]; then echo "$ETCD_INITIAL_CLUSTER" | tr ',' '\\n' | grep -c =
  else echo "\${PANDACLUSTER_ETCD_MEMBERS:-0}"; fi
}

# Whole and healthy: the expected number of members, each started and voting, each endpoint healthy.
whole() {
  local list want started
  list=$(ctl member list) || { WHY="this member does not answer"; return 1; }
  want=$(expected)
  started=$(echo "$list" | awk -F', ' '$2 == "started" && $6 == "false"' | wc -l)
  total=$(echo "$list" | grep -c .)
  [ "$want" -gt 0 ] || want=$total
  if [ "$total" -ne "$want" ] || [ "$started" -ne "$want" ]; then
    WHY="$started of $want members started and voting ($total listed)"; return 1
  fi
  ctl endpoint health --cluster >/dev/null 2>&1 || { WHY="a member's endpoint is not healthy"; return 1; }
}

wait_whole() {
  local deadline=$(( $(date +%s) + $1 ))
  until whole; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    say "waiting: $WHY"
    sleep "$STEP"
  done
}

check() {
  local op
  op=$(update_engine_client -status 2>/dev/null | sed -n 's/^CURRENT_OP=//p')
  [ "$op" = UPDATE_STATUS_UPDATED_NEED_REBOOT ] || { say "no update waiting for a reboot ($op)"; return 0; }
  [ -e "$STATE" ] && { say "a reboot of ours is not released yet"; return 0; }
  local lease out holder
  lease=$(ctl lease grant "$TTL" | awk '/granted/ {print $2}')
  [ -n "$lease" ] || { say "cannot reach etcd for the reboot lock"; return 1; }
  out=$(printf 'create("%s") = "0"\\n\\nput %s "%s" --lease=%s\\n\\nget %s --print-value-only\\n\\n' \\
    "$LOCK" "$LOCK" "$HOLDER" "$lease" "$LOCK" | ctl txn)
  if [ "$(echo "$out" | head -n1)" != SUCCESS ]; then
    ctl lease revoke "$lease" >/dev/null
    holder=$(echo "$out" | tail -n1)
    say "update applied; another controller holds the reboot lock ($holder): waiting for it"
    return 0
  fi
  say "holding the reboot lock (lease $lease); waiting for the cluster to be whole and healthy"
  if ! wait_whole "$WAIT"; then
    ctl lease revoke "$lease" >/dev/null
    say "not rebooting: $WHY after \${WAIT}s; lock released, trying again later"
    return 0
  fi
  mkdir -p "$(dirname "$STATE")"
  echo "$lease" > "$STATE"
  say "cluster whole and healthy: rebooting for the update"
  systemctl reboot
}

release() {
  [ -e "$STATE" ] || return 0
  local lease
  lease=$(cat "$STATE")
  say "back from a reboot: waiting for the cluster to be whole and healthy before releasing the lock"
  until whole; do say "waiting: $WHY"; sleep "$STEP"; done
  ctl lease revoke "$lease" >/dev/null 2>&1 || say "lease $lease already expired"
  rm -f "$STATE"
  say "reboot lock released"
}

case "\${1:-}" in
  check) check ;;
  release) release ;;
  *) echo "usage: $0 check|release" >&2; exit 2 ;;
esac
`;
}

/** The units and files a controller gets for coordinated reboots. */
export function controllerReboots(environmentFiles: string[] = []): RebootParts {
  const metadata = ["Requires=coreos-metadata.service", "After=coreos-metadata.service etcd-member.service"];
  const env = [
    "EnvironmentFile=/run/metadata/flatcar",
    ...environmentFiles.map((f) => `EnvironmentFile=-${f}`),
  ];
  const service = (description: string, verb: string, extra: string[] = []) =>
    [
      "[Unit]",
      `Description=pandacluster: ${description}`,
      ...metadata,
      "",
      "[Service]",
      "Type=oneshot",
      ...env,
      `ExecStart=${REBOOT_SCRIPT} ${verb}`,
      ...extra,
      "",
    ].join("\n");
  return {
    files: [
      { path: REBOOT_SCRIPT, mode: 0o755, content: rebootScript(), compress: true },
      // locksmithd's etcd-lock strategy (its default when etcd runs) cannot talk to etcd 3.5.
      { path: UPDATE_CONF, mode: 0o644, content: "REBOOT_STRATEGY=off\n" },
    ],
    units: [
      {
        name: REBOOT_SERVICE,
        content: service("reboot for an applied Flatcar update when it is this controller's turn", "check"),
      },
      {
        name: REBOOT_TIMER,
        enable: true,
        content: [
          "[Unit]",
          "Description=pandacluster: look for an applied Flatcar update to reboot for",
          "",
          "[Timer]",
          "OnBootSec=5min",
          `OnUnitInactiveSec=${CHECK_INTERVAL}`,
          "RandomizedDelaySec=60",
          "",
          "[Install]",
          "WantedBy=timers.target",
          "",
        ].join("\n"),
      },
      {
        name: RELEASE_SERVICE,
        enable: true,
        content: `${service("release the reboot lock once the cluster is whole again", "release", [
          "RemainAfterExit=yes",
          "TimeoutStartSec=infinity",
        ])}\n[Install]\nWantedBy=multi-user.target\n`,
      },
    ],
  };
}

/** Workers: locksmithd's plain reboot, only inside the weekly window. */
export function workerReboots(): RebootParts {
  const { start, length } = WORKER_REBOOT_WINDOW;
  return {
    files: [
      {
        path: UPDATE_CONF,
        mode: 0o644,
        content: `REBOOT_STRATEGY=reboot\nLOCKSMITHD_REBOOT_WINDOW_START="${start}"\nLOCKSMITHD_REBOOT_WINDOW_LENGTH=${length}\n`,
      },
    ],
    units: [],
  };
}
