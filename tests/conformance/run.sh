#!/usr/bin/env bash
# Conformance: runs the real jsforce client (pinned in package.json) against sfemu.
# Usage: bash tests/conformance/run.sh <build-dir>   (CTest passes CMAKE_BINARY_DIR)
# Exit status is node's test runner status; sfemu's log is printed when a test fails.
set -uo pipefail

JSFORCE_VERSION=3.10.16
START_DEADLINE_S=15   # sfemu must print its URL and answer /services/data/ within this

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ]; then
	echo "usage: $0 <build-dir>" >&2
	exit 2
fi
build="$(cd "$1" 2>/dev/null && pwd)" || { echo "conformance: no build dir '$1'" >&2; exit 2; }
sfemu="$build/sfemu"
if [ ! -x "$sfemu" ]; then
	echo "conformance: $sfemu not built" >&2
	exit 2
fi
for tool in node npm openssl curl; do
	command -v "$tool" >/dev/null || { echo "conformance: '$tool' not found" >&2; exit 2; }
done

# jsforce honours proxy variables and ignores NO_PROXY; everything below talks to 127.0.0.1.
# npm keeps them: it may need a proxy to reach the registry.
noproxy=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

# ---- node_modules, only when jsforce is missing or not the pinned version ----
have_jsforce() {
	(cd "$here" && node -e "
		let v = '';
		try { v = require('./node_modules/jsforce/package.json').version; } catch (e) {}
		process.exit(v === process.argv[1] ? 0 : 1);" "$JSFORCE_VERSION")
}
if ! have_jsforce; then
	echo "conformance: installing jsforce $JSFORCE_VERSION into $here/node_modules"
	(cd "$here" && npm install --no-audit --no-fund) || { echo "conformance: npm install failed" >&2; exit 2; }
	have_jsforce || { echo "conformance: jsforce $JSFORCE_VERSION still missing after npm install" >&2; exit 2; }
fi

# ---- scratch dir, keys, emulator ----
tmp="$(mktemp -d "${TMPDIR:-/tmp}/sfemu-conformance.XXXXXX")"
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() {
	echo "---- sfemu stderr ($sfemu) ----" >&2
	tail -n 400 "$tmp/sfemu.err" >&2
	echo "---- end of sfemu stderr ----" >&2
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/jwt-key.pem" 2>/dev/null &&
	openssl pkey -in "$tmp/jwt-key.pem" -pubout -out "$tmp/jwt-pub.pem" 2>/dev/null ||
	{ echo "conformance: openssl could not make an RSA key pair" >&2; exit 2; }

"${noproxy[@]}" "$sfemu" --listen 127.0.0.1:0 --jwt-key "$tmp/jwt-pub.pem" --session-ttl 0 \
	>"$tmp/sfemu.out" 2>"$tmp/sfemu.err" &
pid=$!

# The first stdout line is the base URL, e.g. http://127.0.0.1:40123
deadline=$((SECONDS + START_DEADLINE_S))
url=""
while [ -z "$url" ]; do
	# read succeeds only once the whole line (with its newline) is there
	if IFS= read -r line <"$tmp/sfemu.out" && [ -n "$line" ]; then
		url="${line%/}"
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"; rc=$?; pid=""
		echo "conformance: sfemu exited with status $rc before printing its URL" >&2
		show_log
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "conformance: sfemu printed no URL within ${START_DEADLINE_S}s" >&2
		show_log
		exit 1
	fi
	sleep 0.05
done
case "$url" in
	http://127.0.0.1:[0-9]*) ;;
	*) echo "conformance: sfemu's first line is not a base URL: '$url'" >&2; show_log; exit 1 ;;
esac

until curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$url/services/data/" 2>/dev/null; do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"; rc=$?; pid=""
		echo "conformance: sfemu exited with status $rc while starting" >&2
		show_log
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "conformance: $url/services/data/ not answering within ${START_DEADLINE_S}s" >&2
		show_log
		exit 1
	fi
	sleep 0.05
done
echo "conformance: sfemu at $url (pid $pid)"

# ---- the tests ----
(cd "$here" && "${noproxy[@]}" \
	SFEMU_URL="$url" \
	SFEMU_JWT_KEY="$tmp/jwt-key.pem" \
	SFEMU_JWT_PUB="$tmp/jwt-pub.pem" \
	node --test --test-reporter=spec --test-force-exit --test-timeout=120000 conformance.test.js)
rc=$?

if ! kill -0 "$pid" 2>/dev/null; then
	wait "$pid"; src=$?; pid=""
	echo "conformance: sfemu died during the tests (status $src)" >&2
	[ "$rc" -eq 0 ] && rc=1
fi
if [ "$rc" -ne 0 ]; then
	show_log
fi
exit "$rc"
