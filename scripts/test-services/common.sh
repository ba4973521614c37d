# shellcheck shell=bash
# Shared settings for the pandacluster test services (moto, etcd, etcd discovery).
# Sourced by install.sh, env.sh, start.sh and stop.sh. Keep in sync with
# test/helpers/services.ts (servicesHome()).
#
# Where things live (outside the repository, stable across work trees):
#   $PANDACLUSTER_TEST_SERVICES_DIR, else /opt/pandacluster-test-services when
#   that exists or can be created (root), else
#   ${XDG_CACHE_HOME:-$HOME/.cache}/pandacluster-test-services.

pcts_home() {
  if [ -n "${PANDACLUSTER_TEST_SERVICES_DIR:-}" ]; then
    printf '%s\n' "$PANDACLUSTER_TEST_SERVICES_DIR"
  elif [ -d /opt/pandacluster-test-services ] || { [ -w /opt ] && [ "$(id -u)" = 0 ]; }; then
    printf '%s\n' /opt/pandacluster-test-services
  else
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/pandacluster-test-services"
  fi
}

PCTS_HOME="$(pcts_home)"
PCTS_PYLIB="$PCTS_HOME/pylib"          # goes on PYTHONPATH (trixie packages + stand-ins)
PCTS_STAMP="$PCTS_HOME/installed.stamp" # written last by a successful install
PCTS_STATE="$PCTS_HOME/run"             # start.sh/stop.sh state (pids, urls, logs)
PCTS_PYTHON=/usr/bin/python3            # bookworm's python, never pyenv's
PCTS_ETCD=/usr/bin/etcd
PCTS_DISCOVERY=/usr/bin/discovery.etcd.io

# Bookworm packages installed with apt-get install.
PCTS_BOOKWORM_PACKAGES="python3-werkzeug python3-flask python3-flask-cors python3-jinja2 \
python3-cryptography python3-yaml python3-dateutil python3-requests python3-urllib3 \
python3-six python3-ply etcd-server etcd-discovery \
ignition postgresql-15 chromium zsh fish"

# Trixie packages fetched with apt-get download and unpacked with dpkg -x (all pure Python).
PCTS_TRIXIE_PACKAGES="python3-moto python3-boto3 python3-botocore python3-s3transfer \
python3-jmespath python3-responses python3-xmltodict python3-antlr4 python3-jsonpath-ng \
python3-multipart python3-joserfc python3-pyparsing"

# Bump when the recipe changes so that install.sh redoes the unpack.
PCTS_RECIPE_VERSION=1
