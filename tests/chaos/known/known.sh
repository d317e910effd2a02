# known.sh - sourced by the reproductions in this folder: the scenario helpers (lib.sh), and
# known_py to run a reproduction's Python.
. "$(dirname "${BASH_SOURCE[0]}")/../../scenario/lib.sh"
KNOWN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# known_py [BIN] - runs the Python on standard input against the server started as "clm" and the
# sfemu started as "sf", with what sync_lib.py and conflict_common.py read from the environment;
# BIN is the clmsync binary conflict_common's CLI and Server run (default $BUILD/clmsync). A
# failure counts in FAILS. Variables set before the call (FIFO=...) reach the Python too.
known_py() {
	PYTHONPATH="$KNOWN/../../scenario:$KNOWN" CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm SF_URL=$URL_sf \
		CLM_PID=$PID_clm CLMSYNC=${1:-$BUILD/clmsync} CLM_CONFIG=$WORK/clm.yaml CLM_DATA=$DATA_clm \
		ADMIN_URL=$ADMIN_clm WORK=$WORK python3 - || FAILS=$((FAILS + 1))
}
