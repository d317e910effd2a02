#!/usr/bin/env bash
# n8n for the peer comparison: installs it, starts it headless with the two-way workflows, says its version.
#   n8n.sh install LOG     n8n (bench/peers/n8n/package.json) into bench/peers/n8n/node_modules, once
#   n8n.sh start DIR       SF, CLM and CLM_TOKEN_FILE in the environment: a user folder in DIR, the
#                          credentials and the two workflows (bench/peers/n8n/workflows.py) imported and
#                          published, then `n8n start` on 127.0.0.1 and a free port; its pid in DIR/n8n.pid
#                          once both workflows are active
#   n8n.sh version
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N8N_DIR=$HERE/n8n
VERSION=$(node -e "console.log(require('$N8N_DIR/package.json').dependencies.n8n)")
noproxy=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

installed() {
	[ "$(cd "$N8N_DIR" && node -e "try{console.log(require('n8n/package.json').version)}catch(e){}")" = "$VERSION" ] &&
		(cd "$N8N_DIR" && node -e "require('sqlite3')" 2>/dev/null)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case ${1:-} in
install)
	log=${2:-/dev/stderr}
	installed && exit 0
	echo "n8n: installing n8n $VERSION into $N8N_DIR/node_modules (a few minutes, about 2.3 GB)" >&2
	(cd "$N8N_DIR" && npm install --no-audit --no-fund && npm rebuild sqlite3) >"$log" 2>&1 ||
		{ tail -30 "$log" >&2; exit 1; }
	installed || { echo "n8n: installed, but n8n $VERSION or its sqlite3 module does not load" >&2; exit 1; }
	;;
version)
	(cd "$N8N_DIR" && node -e "console.log(require('n8n/package.json').version)")
	;;
start)
	d=$2
	: "${SF:?}" "${CLM:?}" "${CLM_TOKEN_FILE:?}"
	mkdir -p "$d/n8n-user"
	port=$(free_port)
	broker=$(free_port)
	export N8N_USER_FOLDER=$d/n8n-user N8N_HOST=127.0.0.1 N8N_LISTEN_ADDRESS=127.0.0.1 N8N_PORT=$port \
		N8N_PROTOCOL=http DB_TYPE=sqlite N8N_DIAGNOSTICS_ENABLED=false N8N_PERSONALIZATION_ENABLED=false \
		N8N_VERSION_NOTIFICATIONS_ENABLED=false N8N_TEMPLATES_ENABLED=false N8N_SECURE_COOKIE=false \
		N8N_RUNNERS_BROKER_PORT=$broker N8N_RUNNERS_BROKER_LISTEN_ADDRESS=127.0.0.1 \
		N8N_ENCRYPTION_KEY=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n') \
		N8N_COMMUNITY_PACKAGES_ENABLED=false N8N_LOG_LEVEL=info N8N_LOG_OUTPUT=console \
		EXECUTIONS_DATA_SAVE_ON_SUCCESS=none EXECUTIONS_DATA_SAVE_ON_PROGRESS=false \
		GENERIC_TIMEZONE=UTC TZ=UTC N8N_CONCURRENCY_PRODUCTION_LIMIT=1
	n8n=("${noproxy[@]}" node "$N8N_DIR/node_modules/n8n/bin/n8n")
	# A session for the OAuth2 credential, as its browser flow would have left it (sfemu's refresh
	# token grant; the session does not expire in this run)
	"${noproxy[@]}" python3 "$HERE/n8n/workflows.py" --sf "$SF" --clm "$CLM" --token-file "$CLM_TOKEN_FILE" --out "$d"
	echo "n8n: importing credentials and workflows" >&2
	"${n8n[@]}" import:credentials --input="$d/credentials.json" >"$d/n8n-import.log" 2>&1 ||
		{ cat "$d/n8n-import.log" >&2; exit 1; }
	"${n8n[@]}" import:workflow --separate --input="$d/workflows" >>"$d/n8n-import.log" 2>&1 ||
		{ cat "$d/n8n-import.log" >&2; exit 1; }
	for id in peersSfToRepo001 peersRepoToSf001; do
		if "${n8n[@]}" publish:workflow --help >/dev/null 2>&1; then
			"${n8n[@]}" publish:workflow --id="$id" >>"$d/n8n-import.log" 2>&1 || { cat "$d/n8n-import.log" >&2; exit 1; }
		else
			"${n8n[@]}" update:workflow --id="$id" --active=true >>"$d/n8n-import.log" 2>&1 || { cat "$d/n8n-import.log" >&2; exit 1; }
		fi
	done
	echo "n8n: starting on 127.0.0.1:$port" >&2
	setsid "${n8n[@]}" start >"$d/n8n.log" 2>&1 </dev/null &
	pid=$!
	end=$((SECONDS + 180))
	until [ "$(grep -c '^Activated workflow' "$d/n8n.log" 2>/dev/null || true)" -ge 2 ] &&
		curl -fsS --noproxy '*' -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || { echo "n8n: exited while starting; its log:" >&2; tail -40 "$d/n8n.log" >&2; exit 1; }
		[ $SECONDS -lt $end ] || { echo "n8n: not ready within 180 s; its log:" >&2; tail -40 "$d/n8n.log" >&2; kill "$pid"; exit 1; }
		sleep 0.5
	done
	echo "$pid" >"$d/n8n.pid"
	echo "n8n: up (pid $pid), workflows active" >&2
	;;
*)
	echo "usage: $0 install LOG | start DIR | version" >&2
	exit 2
	;;
esac
