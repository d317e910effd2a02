#!/bin/sh
# Installs the Debian 12 packages that building and testing clmsync need, only when missing.
set -eu

# chromium: the headless browser tests/browser/ drives through the dashboard
pkgs="build-essential cmake pkg-config clang
libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libfyaml-dev
libsqlite3-dev libpq-dev libssl-dev libcmocka-dev libjemalloc-dev openssl curl python3
python3-prometheus-client python3-yaml chromium"

# Node.js and npm run the conformance test against a real client; the machine may already
# carry its own, newer Node, so only Debian's is installed when none is present.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
