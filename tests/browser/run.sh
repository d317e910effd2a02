#!/usr/bin/env bash
# The operator's dashboard in a real browser: Debian's Chromium, headless, driven by
# playwright-core (pinned in package.json) against a real sfemu and `clmsync serve`.
# Usage: bash tests/browser/run.sh <build-dir>   (CTest passes CMAKE_BINARY_DIR)
# Exit status is node's test runner's; 77 (CTest: skipped) only when there is no Chromium and
# none can be installed. The screenshots go to <build-dir>/Testing/browser/.
set -uo pipefail

PLAYWRIGHT_VERSION=1.65.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ]; then
	echo "usage: $0 <build-dir>" >&2
	exit 2
fi
build="$(cd "$1" 2>/dev/null && pwd)" || { echo "browser: no build dir '$1'" >&2; exit 2; }
for bin in sfemu clmsync; do
	[ -x "$build/$bin" ] || { echo "browser: $build/$bin not built" >&2; exit 2; }
done
for tool in node npm python3; do
	command -v "$tool" >/dev/null || { echo "browser: '$tool' not found" >&2; exit 2; }
done

# ---- Chromium: Debian's package (scripts/install-deps.sh lists it) ----
find_chromium() {
	local c
	for c in "${CHROMIUM:-}" chromium chromium-browser; do
		[ -n "$c" ] && command -v "$c" && return 0
	done
	return 1
}
if ! chromium="$(find_chromium)"; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "browser: no Chromium; installing Debian's chromium package"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >/tmp/browser-apt.$$.log 2>&1 ||
			{ echo "browser: apt-get could not install chromium:"; tail -n 5 /tmp/browser-apt.$$.log; }
		rm -f /tmp/browser-apt.$$.log
	fi
	if ! chromium="$(find_chromium)"; then
		echo "SKIP: browser: no Chromium here and it cannot be installed (apt-get install chromium, or set CHROMIUM)"
		exit 77
	fi
fi

# ---- node_modules, only when playwright-core is missing or not the pinned version ----
have_playwright() {
	(cd "$here" && node -e "
		let v = '';
		try { v = require('./node_modules/playwright-core/package.json').version; } catch (e) {}
		process.exit(v === process.argv[1] ? 0 : 1);" "$PLAYWRIGHT_VERSION")
}
if ! have_playwright; then
	echo "browser: installing playwright-core $PLAYWRIGHT_VERSION into $here/node_modules"
	# the package only: playwright-core downloads no browser, Debian's is used
	(cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund) ||
		{ echo "browser: npm install failed" >&2; exit 2; }
	have_playwright || { echo "browser: playwright-core $PLAYWRIGHT_VERSION still missing after npm install" >&2; exit 2; }
fi

out="$build/Testing/browser"
mkdir -p "$out" || exit 2

# ---- sfemu and clmsync on loopback (lib.sh stops them by pid on exit) ----
. "$here/../scenario/lib.sh" "$build"
SCEN="$(cd "$here/../scenario" && pwd)"

start_sfemu sf
export CLMSYNC_TEST_SECRET=clmsync-test-secret
export CLM_ADMIN_TOKEN=dashboard-admin-token-0123456789 CLM_READ_TOKEN=dashboard-read-token-0123456789
python3 - "$WORK/clm-data/clmsync.db" "$URL_sf" >"$WORK/clm.yaml" <<PY
import sys
sys.path.insert(0, "$SCEN")
import sync_lib
tokens = """api_tokens:
  - {name: ops, role: admin, token_env: CLM_ADMIN_TOKEN}
  - {name: viewer, role: read, token_env: CLM_READ_TOKEN}
"""
print(sync_lib.config_yaml(sys.argv[1], [("sf", sys.argv[2])],
                           sync_lib.standard_mappings("sf", contract_status_owner="salesforce"), extra=tokens))
PY
start_clmsync clm --config "$WORK/clm.yaml"
echo "browser: sfemu at $URL_sf, clmsync at $URL_clm, dashboard at $ADMIN_clm/, Chromium $chromium"

rc=0
(cd "$here" && SF_URL="$URL_sf" CLM_URL="$URL_clm" ADMIN_URL="$ADMIN_clm" CHROMIUM="$chromium" OUT_DIR="$out" \
	node --test --test-reporter=spec --test-force-exit dashboard.test.mjs) || rc=$?
if [ "$rc" -ne 0 ]; then
	FAILS=1   # lib.sh keeps $WORK and prints the servers' logs
fi
echo "browser: screenshots in $out"
exit "$rc"
