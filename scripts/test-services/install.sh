#!/usr/bin/env bash
# Installs the real services that pandacluster's tests run against:
#   - moto (AWS emulator) from Debian trixie, unpacked beside the system (never installed
#     into it) and run with bookworm's /usr/bin/python3;
#   - etcd (etcd-server) and the etcd discovery service (etcd-discovery) from bookworm;
#   - ignition-validate (ignition), PostgreSQL 15 (postgresql-15) and Chromium (chromium) from bookworm;
#   - zsh and fish from bookworm, to load the generated completion scripts in their real shells.
# See /work/shared/BRIEF.md §4 and scripts/test-services/README.md.
#
# Idempotent: a fast no-op when everything is already in place. Safe in CI (CI=true, no stdin).
# Needs root (or sudo) for apt-get install of the bookworm packages.
#
# Usage: scripts/test-services/install.sh [--force] [--verify]
#   --force   redo the trixie download/unpack even if the stamp says it is done
#   --verify  also import moto with the target python after a no-op check
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

FORCE=0
VERIFY=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --verify) VERIFY=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

START_TIME=$(date +%s)
say() { printf '[test-services] %s\n' "$*"; }
die() { printf '[test-services] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "[test-services] ERROR: install failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  fi
fi

[ -x "$PCTS_PYTHON" ] || die "$PCTS_PYTHON not found: the test services need Debian's python3 (apt-get install python3)"

stamp_content() {
  printf 'recipe=%s\ntrixie=%s\n' "$PCTS_RECIPE_VERSION" "$(echo $PCTS_TRIXIE_PACKAGES)"
}

missing_bookworm_packages() {
  local p status missing=()
  for p in $PCTS_BOOKWORM_PACKAGES; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    case "$status" in ii*) ;; *) missing+=("$p") ;; esac
  done
  echo "${missing[*]:-}"
}

python_check() {
  # $1: pylib dir. Imports everything the tests use, with bookworm's python.
  PYTHONPATH="$1" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 "$PCTS_PYTHON" - <<'PY'
import importlib, sys
assert sys.executable == "/usr/bin/python3" or sys.executable.startswith("/usr/bin/python3"), sys.executable
mods = ["moto", "moto.server", "moto.backends", "boto3", "botocore", "flask", "flask_cors",
        "werkzeug", "jinja2", "yaml", "openapi_spec_validator",
        "openapi_spec_validator.validation.exceptions"]
for m in mods:
    importlib.import_module(m)
from moto.backends import get_backend
for service in ["cloudformation", "ec2", "autoscaling", "route53", "sts", "iam", "apigateway", "s3"]:
    get_backend(service)
import moto
print(moto.__version__)
PY
}

# ---------------------------------------------------------------- fast path
MISSING="$(missing_bookworm_packages)"
if [ "$FORCE" = 0 ] && [ -z "$MISSING" ] && [ -f "$PCTS_STAMP" ] \
   && [ "$(cat "$PCTS_STAMP")" = "$(stamp_content)" ] \
   && [ -f "$PCTS_PYLIB/moto/__init__.py" ] && [ -f "$PCTS_PYLIB/openapi_spec_validator/__init__.py" ] \
   && [ -x "$PCTS_ETCD" ] && [ -x "$PCTS_DISCOVERY" ]; then
  if [ "$VERIFY" = 1 ]; then
    v="$(python_check "$PCTS_PYLIB")" || die "installed moto does not import; rerun with --force"
    say "already installed in $PCTS_HOME (moto $v, verified)"
  else
    say "already installed in $PCTS_HOME"
  fi
  exit 0
fi

mkdir -p "$PCTS_HOME" || die "cannot create $PCTS_HOME (set PANDACLUSTER_TEST_SERVICES_DIR to a writable folder)"

# One install at a time (parallel test workers, CI and a developer may all call this).
exec 9>"$PCTS_HOME/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || die "timed out waiting for another install.sh ($PCTS_HOME/.install.lock)"
fi

# ---------------------------------------------------------------- bookworm packages
MISSING="$(missing_bookworm_packages)"
if [ -n "$MISSING" ]; then
  if [ "$(id -u)" != 0 ] && [ ${#SUDO[@]} = 0 ]; then
    die "missing Debian packages ($MISSING) and not root (no passwordless sudo): run this script as root"
  fi
  # Make sure package scripts do not start etcd/etcd-discovery daemons (no systemd here;
  # a sysvinit start would occupy port 2379). Only if the machine has no policy yet.
  POLICY_CREATED=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    POLICY_CREATED=1
  fi
  cleanup_policy() { if [ "$POLICY_CREATED" = 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT

  need_update=0
  # Lists absent or not knowing a package: update first. (Stale lists that name versions the
  # mirror no longer has make the install fail: then update and retry once, below. The lists'
  # mtimes are the mirror's dates, not the time of the last update, so age says nothing.)
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    need_update=1
  else
    for p in $MISSING; do
      if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then need_update=1; break; fi
    done
  fi
  if [ "$need_update" = 1 ]; then
    say "apt-get update (bookworm)"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
  fi
  say "apt-get install: $MISSING"
  # shellcheck disable=SC2086
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends $MISSING >"$PCTS_HOME/apt-install.log" 2>&1; then
    if [ "$need_update" = 0 ]; then
      say "install failed; retrying after apt-get update"
      "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
      # shellcheck disable=SC2086
      "${SUDO[@]}" apt-get install -y -qq --no-install-recommends $MISSING >"$PCTS_HOME/apt-install.log" 2>&1 \
        || { tail -20 "$PCTS_HOME/apt-install.log" >&2; die "apt-get install failed (log: $PCTS_HOME/apt-install.log)"; }
    else
      tail -20 "$PCTS_HOME/apt-install.log" >&2
      die "apt-get install failed (log: $PCTS_HOME/apt-install.log)"
    fi
  fi
  MISSING="$(missing_bookworm_packages)"
  [ -z "$MISSING" ] || die "still missing after apt-get install: $MISSING"
fi

[ -x "$PCTS_ETCD" ] || die "$PCTS_ETCD missing after installing etcd-server"
if [ ! -x "$PCTS_DISCOVERY" ]; then
  found="$(dpkg -L etcd-discovery 2>/dev/null | grep -E '/s?bin/' | head -1 || true)"
  die "$PCTS_DISCOVERY missing (etcd-discovery ships: ${found:-nothing in bin}); update common.sh"
fi

# ---------------------------------------------------------------- trixie packages
if [ "$FORCE" = 1 ] || [ ! -f "$PCTS_STAMP" ] || [ "$(cat "$PCTS_STAMP")" != "$(stamp_content)" ] \
   || [ ! -f "$PCTS_PYLIB/moto/__init__.py" ] || [ ! -f "$PCTS_PYLIB/openapi_spec_validator/__init__.py" ]; then

  # The machine's own bookworm mirror (deb822 .sources or one-line .list), unless overridden.
  find_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk '
        function flush() { if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && uris != "") { split(uris, u, " "); print u[1] "\t" signed; found=1; exit } types=""; suites=""; uris=""; signed="" }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        { line=$0; key=line; sub(/:.*/, "", key); val=line; sub(/^[^:]*:[ \t]*/, "", val)
          k=tolower(key)
          if (k=="types") types=val; else if (k=="uris") uris=val; else if (k=="suites") suites=val; else if (k=="signed-by") signed=val }
        END { if (!found) flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      awk '/^[ \t]*deb[ \t]/ { sub(/^[ \t]*deb[ \t]+/, ""); opts="";
             if ($0 ~ /^\[/) { opts=$0; sub(/\].*/, "", opts); sub(/^[^\]]*\][ \t]*/, "") }
             if ($2 == "bookworm") { s=""; if (match(opts, /signed-by=[^ \]]+/)) s=substr(opts, RSTART+10, RLENGTH-10); print $1 "\t" s; exit } }' "$f"
    done
  }
  if [ -n "${PANDACLUSTER_TRIXIE_MIRROR:-}" ]; then
    MIRROR="$PANDACLUSTER_TRIXIE_MIRROR"; SIGNED_BY=""
  else
    line="$(find_mirror | head -1)"
    [ -n "$line" ] || die "no 'bookworm' entry found in /etc/apt/sources.list(.d); set PANDACLUSTER_TRIXIE_MIRROR=http://…/debian"
    MIRROR="${line%%$'\t'*}"; SIGNED_BY="${line#*$'\t'}"
  fi
  MIRROR="${MIRROR%/}"
  [ -n "$SIGNED_BY" ] && [ -f "$SIGNED_BY" ] || SIGNED_BY=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$SIGNED_BY" ] || die "keyring $SIGNED_BY missing (apt-get install debian-archive-keyring)"

  APTDIR="$PCTS_HOME/apt-trixie"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/state" "$APTDIR/empty" "$PCTS_HOME/debs"
  printf 'deb [signed-by=%s] %s trixie main\n' "$SIGNED_BY" "$MIRROR" >"$APTDIR/sources.list"
  : >"$APTDIR/status"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/empty"
    -o "Dir::Etc::Preferences=$APTDIR/empty/none"
    -o "Dir::Etc::PreferencesParts=$APTDIR/empty"
    -o "Dir::State=$APTDIR/state"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR/cache"
    -o "Acquire::Languages=none"
    -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1"
  )

  trixie_update() {
    say "apt-get update (trixie lists in $APTDIR, system apt state untouched; mirror $MIRROR)"
    apt-get "${APT_OPTS[@]}" update -qq >"$APTDIR/update.log" 2>&1 \
      || { tail -20 "$APTDIR/update.log" >&2; die "trixie apt-get update failed (log: $APTDIR/update.log)"; }
    if ! ls "$APTDIR"/lists/*trixie*_Packages* >/dev/null 2>&1; then
      tail -20 "$APTDIR/update.log" >&2
      die "trixie apt-get update got no package list from $MIRROR (log: $APTDIR/update.log)"
    fi
    touch "$APTDIR/updated.stamp"
  }
  # Refresh the trixie lists when absent or updated more than a day ago (a failed download
  # also triggers one update and a retry).
  if ! ls "$APTDIR"/lists/*_Packages* >/dev/null 2>&1 || [ ! -f "$APTDIR/updated.stamp" ] \
     || [ -n "$(find "$APTDIR/updated.stamp" -mmin +1440 -print)" ]; then
    trixie_update
  fi

  say "apt-get download (trixie): $(echo $PCTS_TRIXIE_PACKAGES)"
  rm -f "$PCTS_HOME"/debs/*.deb
  # shellcheck disable=SC2086
  if ! (cd "$PCTS_HOME/debs" && apt-get "${APT_OPTS[@]}" download -qq $PCTS_TRIXIE_PACKAGES) >"$APTDIR/download.log" 2>&1; then
    trixie_update
    # shellcheck disable=SC2086
    (cd "$PCTS_HOME/debs" && apt-get "${APT_OPTS[@]}" download -qq $PCTS_TRIXIE_PACKAGES) >"$APTDIR/download.log" 2>&1 \
      || { tail -20 "$APTDIR/download.log" >&2; die "trixie apt-get download failed (log: $APTDIR/download.log)"; }
  fi

  STAGE="$PCTS_HOME/stage.$$"
  rm -rf "$STAGE"
  mkdir -p "$STAGE/root"
  say "unpacking $(ls "$PCTS_HOME"/debs/*.deb | wc -l) packages with dpkg -x"
  for deb in "$PCTS_HOME"/debs/*.deb; do
    dpkg -x "$deb" "$STAGE/root"
  done
  [ -d "$STAGE/root/usr/lib/python3/dist-packages/moto" ] || die "moto not found in the unpacked packages"
  mv "$STAGE/root/usr/lib/python3/dist-packages" "$STAGE/pylib"
  {
    echo "# Unpacked by scripts/test-services/install.sh from Debian trixie (not installed with dpkg)."
    for deb in "$PCTS_HOME"/debs/*.deb; do dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb"; done
  } >"$STAGE/pylib/PANDACLUSTER-PACKAGES.txt"

  # Stand-in for openapi-spec-validator: moto imports it at load time, only for API Gateway.
  mkdir -p "$STAGE/pylib/openapi_spec_validator/validation"
  cat >"$STAGE/pylib/openapi_spec_validator/__init__.py" <<'PY'
"""Stand-in for openapi-spec-validator (not packaged for this machine).

moto imports it when it loads, but uses it only for API Gateway's ImportRestApi/PutRestApi.
This stand-in accepts any mapping as a valid spec. Written by
pandacluster's scripts/test-services/install.sh.
"""
from .validation.exceptions import OpenAPIValidationError

__all__ = ["validate_spec", "validate", "OpenAPIValidationError"]


def validate_spec(spec, *args, **kwargs):
    if not isinstance(spec, dict):
        raise OpenAPIValidationError("spec must be a mapping")
    return None


validate = validate_spec
PY
  : >"$STAGE/pylib/openapi_spec_validator/validation/__init__.py"
  cat >"$STAGE/pylib/openapi_spec_validator/validation/exceptions.py" <<'PY'
class OpenAPIValidationError(Exception):
    """Stand-in for openapi_spec_validator.validation.exceptions.OpenAPIValidationError."""
PY

  say "checking that moto imports with $PCTS_PYTHON"
  if ! MOTO_VERSION="$(python_check "$STAGE/pylib" 2>"$STAGE/check.log")"; then
    tail -30 "$STAGE/check.log" >&2
    die "moto does not import with $PCTS_PYTHON (a missing dependency?)"
  fi

  # Swap in atomically-ish; old tree removed afterwards.
  if [ -d "$PCTS_PYLIB" ]; then mv "$PCTS_PYLIB" "$STAGE/old-pylib"; fi
  mv "$STAGE/pylib" "$PCTS_PYLIB"
  rm -rf "$STAGE"
  stamp_content >"$PCTS_STAMP"
  say "moto $MOTO_VERSION ready in $PCTS_PYLIB"
fi

say "done in $(( $(date +%s) - START_TIME ))s: PYTHONPATH=$PCTS_PYLIB $PCTS_PYTHON -m moto.server; $PCTS_ETCD; $PCTS_DISCOVERY"
