#!/usr/bin/env bash
# Starts moto, etcd and the etcd discovery service on free 127.0.0.1 ports for manual use,
# writes their URLs to $PCTS_HOME/run/services.env (see env.sh) and prints them.
# Tests do not need this: test/helpers/services.ts starts its own instances.
#
# Usage: scripts/test-services/start.sh [--plain] [--strict] [--no-amis]
#   --plain    plain moto.server, without scripts/test-services/python/pandacluster_moto's fixes
#   --strict   MOTO_ENABLE_KEYPAIR_VALIDATION / MOTO_ENABLE_AMI_VALIDATION
#   --no-amis  moto's own image list instead of test/fixtures/flatcar-amis.json
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"
REPO="$(cd "$HERE/../.." && pwd)"

FIXES=1; STRICT=0; AMIS="$REPO/test/fixtures/flatcar-amis.json"
for arg in "$@"; do
  case "$arg" in
    --plain) FIXES=0 ;;
    --fixes) FIXES=1 ;;
    --strict) STRICT=1 ;;
    --no-amis) AMIS="" ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

die() { printf '[test-services] ERROR: %s\n' "$*" >&2; exit 1; }
[ -f "$PCTS_PYLIB/moto/__init__.py" ] && [ -x "$PCTS_ETCD" ] && [ -x "$PCTS_DISCOVERY" ] \
  || die "not installed: run scripts/test-services/install.sh"
if [ -f "$PCTS_STATE/services.env" ]; then
  die "already started (state in $PCTS_STATE/services.env); run scripts/test-services/stop.sh first"
fi
mkdir -p "$PCTS_STATE"

free_port() {
  "$PCTS_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# Ready means: the url answers (its body starting with expect-prefix, if given) AND the process we
# launched logged owns-line (its own "serving on <our address>" line). Without the log check, a
# server of another test run that took the port between free_port and our bind (ours then exits)
# would answer for ours.
wait_http() { # url expect-prefix-or-empty timeout-seconds pid logfile owns-line
  "$PCTS_PYTHON" - "$1" "$2" "$3" "$4" "$5" "$6" <<'PY'
import os, sys, time, urllib.request, urllib.error
url, prefix, timeout, pid, logfile, owns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
deadline = time.time() + timeout
def ours():
    try:
        with open(logfile, errors="replace") as f:
            return owns in f.read()
    except OSError:
        return False
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            body = r.read().decode()
            if (not prefix or body.startswith(prefix)) and ours():
                sys.exit(0)
    except urllib.error.HTTPError as e:
        if not prefix and e.code < 500 and ours():
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
}
launch() { # name logfile cmd...
  local name="$1" log="$2"; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  echo "$!" >"$PCTS_STATE/$name.pid"
  echo "$!"
}

# moto
MOTO_PORT="$(free_port)"
MODULE=moto.server; PYPATH="$PCTS_PYLIB"
if [ "$FIXES" = 1 ]; then MODULE=pandacluster_moto; PYPATH="$PCTS_PYLIB:$HERE/python"; fi
MOTO_PID="$(launch moto "$PCTS_STATE/moto.log" env PYTHONPATH="$PYPATH" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
  ${AMIS:+MOTO_AMIS_PATH="$AMIS"} \
  $( [ "$STRICT" = 1 ] && echo MOTO_ENABLE_KEYPAIR_VALIDATION=true MOTO_ENABLE_AMI_VALIDATION=true ) \
  "$PCTS_PYTHON" -m "$MODULE" -H 127.0.0.1 -p "$MOTO_PORT")"

# etcd
ETCD_PORT="$(free_port)"; PEER_PORT="$(free_port)"
rm -rf "$PCTS_STATE/etcd-data"
ETCD_PID="$(launch etcd "$PCTS_STATE/etcd.log" "$PCTS_ETCD" --name=pandacluster-test \
  --data-dir="$PCTS_STATE/etcd-data" --enable-v2=true \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$PEER_PORT" \
  --initial-cluster="pandacluster-test=http://127.0.0.1:$PEER_PORT" --initial-cluster-state=new)"

fail() { "$HERE/stop.sh" >/dev/null 2>&1 || true; die "$1 (log: $2)"; }
wait_http "http://127.0.0.1:$ETCD_PORT/version" "" 30 "$ETCD_PID" "$PCTS_STATE/etcd.log" \
  "serving insecure client requests on 127.0.0.1:$ETCD_PORT" || fail "etcd did not start" "$PCTS_STATE/etcd.log"

DISC_PORT="$(free_port)"
DISC_PID="$(launch discovery "$PCTS_STATE/discovery.log" "$PCTS_DISCOVERY" --etcd "http://127.0.0.1:$ETCD_PORT" \
  --host "http://127.0.0.1:$DISC_PORT" --addr "127.0.0.1:$DISC_PORT")"
wait_http "http://127.0.0.1:$DISC_PORT/new?size=3" "http://127.0.0.1:$DISC_PORT/" 30 "$DISC_PID" \
  "$PCTS_STATE/discovery.log" "discovery serving on 127.0.0.1:$DISC_PORT" \
  || fail "discovery did not start" "$PCTS_STATE/discovery.log"
wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" "" 30 "$MOTO_PID" "$PCTS_STATE/moto.log" \
  "Running on http://127.0.0.1:$MOTO_PORT" || fail "moto did not start" "$PCTS_STATE/moto.log"

cat >"$PCTS_STATE/services.env" <<ENV
MOTO_ENDPOINT=http://127.0.0.1:$MOTO_PORT
ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT
DISCOVERY_URL=http://127.0.0.1:$DISC_PORT
ENV
cat "$PCTS_STATE/services.env"
echo "# moto: $MODULE (pid $MOTO_PID), etcd pid $ETCD_PID, discovery pid $DISC_PID; logs in $PCTS_STATE"
echo "# AWS CLI: AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 aws ..."
