#!/usr/bin/env bash
# make bench: runs every benchmark and writes its figures to bench/results/.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
for b in bench/sfemu.sh bench/repository.sh bench/engine.sh; do
	bash "$b" "$BUILD"
done
