#!/usr/bin/env bash
# Stops what start.sh started (only those processes, by the pids it recorded).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

stopped=0
for name in discovery etcd moto; do
  pidfile="$PCTS_STATE/$name.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  # Only a process that is still the one start.sh launched (pids get reused).
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq 'moto|pandacluster_moto|etcd|discovery'; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
    echo "[test-services] stopped $name (pid $pid)"
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
rm -f "$PCTS_STATE/services.env"
rm -rf "$PCTS_STATE/etcd-data"
[ "$stopped" -gt 0 ] || echo "[test-services] nothing was running"
