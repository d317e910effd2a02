#!/usr/bin/env bash
# clmsync config through the real binary: exit codes, errors with file and line, masked secrets,
# the shipped example, and docs/configuration.md equal to `clmsync config reference`.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C=$BUILD/clmsync

# expect_exit CODE MESSAGE -- COMMAND...: runs COMMAND with output in $WORK/out.
expect_exit() {
	local want=$1 msg=$2; shift 3
	local got=0
	"$@" >"$WORK/out" 2>&1 || got=$?
	if [ "$got" -eq "$want" ]; then ok "$msg"; else bad "$msg: exit $got, want $want"; cat "$WORK/out"; fi
}
expect_out() {
	if grep -qF -- "$1" "$WORK/out"; then ok "$2"; else bad "$2: no '$1' in output"; cat "$WORK/out"; fi
}

TOKEN=scenario-token-0123456789abcdef
expect_exit 0 "the example passes config check" -- \
	env CLMSYNC_ADMIN_TOKEN=$TOKEN "$C" config check "$ROOT/config/examples/repository.yaml"
expect_out 'token: "****"' "the secret is shown masked"
if grep -qF "$TOKEN" "$WORK/out"; then bad "the secret was printed"; else ok "the secret is never printed"; fi

printf 'repository:\n  listen: nowhere\n  max_body: 1\nlogg: {}\n' >"$WORK/bad.yaml"
expect_exit 1 "an invalid file exits 1" -- "$C" config check "$WORK/bad.yaml"
expect_out "$WORK/bad.yaml:2: repository.listen: expected HOST:PORT" "error names file, line and key"
expect_out "$WORK/bad.yaml:3: repository.max_body:" "every error is reported"
expect_out "$WORK/bad.yaml:4: logg: unknown key (did you mean log?)" "unknown key with a suggestion"

printf 'api_tokens:\n  - {name: a, role: read, token_file: %s}\n' "$WORK/tok" >"$WORK/tok.yaml"
printf '%s\n' "$TOKEN" >"$WORK/tok"
chmod 644 "$WORK/tok"
expect_exit 1 "a world-readable token file is refused" -- "$C" config check "$WORK/tok.yaml"
expect_out "chmod 600" "the refusal says how to fix it"
chmod 600 "$WORK/tok"
expect_exit 0 "a private token file is accepted" -- "$C" config check "$WORK/tok.yaml"

expect_exit 2 "no file is a usage error" -- "$C" config check
expect_exit 2 "an unknown subcommand is a usage error" -- "$C" config nonsense
expect_exit 0 "config --help" -- "$C" config --help

"$C" config reference >"$WORK/reference.md"
if cmp -s "$WORK/reference.md" "$ROOT/docs/configuration.md"; then
	ok "docs/configuration.md is the generated reference"
else
	bad "docs/configuration.md is stale: run clmsync config reference > docs/configuration.md"
fi

finish
