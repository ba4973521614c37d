# shellcheck shell=bash
# Source me:  . scripts/test-services/env.sh
# Exports where the test services live (after install.sh) and, when start.sh is running them,
# their URLs. Changes nothing else in the calling shell (no set -e, no PATH change).

_pcts_dir="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
# shellcheck source=common.sh
. "$_pcts_dir/common.sh"

export PANDACLUSTER_TEST_SERVICES_HOME="$PCTS_HOME"
export PANDACLUSTER_TEST_PYTHON="$PCTS_PYTHON"
# PYTHONPATH for plain moto; the _FIXES variant adds scripts/test-services/python (pandacluster_moto).
export PANDACLUSTER_TEST_PYTHONPATH="$PCTS_PYLIB"
export PANDACLUSTER_TEST_PYTHONPATH_FIXES="$PCTS_PYLIB:$_pcts_dir/python"
export PANDACLUSTER_ETCD_BIN="$PCTS_ETCD"
export PANDACLUSTER_DISCOVERY_BIN="$PCTS_DISCOVERY"
export PANDACLUSTER_FLATCAR_AMIS="$(cd "$_pcts_dir/../.." && pwd)/test/fixtures/flatcar-amis.json"

# URLs of the services start.sh runs (MOTO_ENDPOINT, DISCOVERY_URL, ETCD_ENDPOINT), if any.
if [ -f "$PCTS_STATE/services.env" ]; then
  # shellcheck disable=SC1091
  . "$PCTS_STATE/services.env"
  export MOTO_ENDPOINT DISCOVERY_URL ETCD_ENDPOINT
fi
unset _pcts_dir
