#!/usr/bin/env bash
# test_security_secrets.sh - a full sync with distinctive secrets everywhere (the org's client secret
# and refresh token, API tokens from a file and the environment, the alert signing key, the admin
# listener's TLS private key, the access tokens Salesforce issues), then every place an operator or
# an attacker could read: serve's log, every response body the test saw (errors included), /metrics,
# the admin API's status, config and audit, `clmsync config check` and `status --json`, the store's
# files byte for byte. None may hold any of them.
. "$(dirname "$0")/lib.sh"

R=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export CS="cs-SECRET-$R-client" RT="rt-SECRET-$R-refresh" TA="ta-SECRET-$R-admin-token" TR="tr-SECRET-$R-read-token"
export HK="hk-SECRET-$R-signing-key"
CLIENT_ID=clmsync-secret-client
# short sessions: the engine logs in again and again with the refresh token and the client secret
start_sfemu sf --client-id "$CLIENT_ID" --client-secret "$CS" --refresh-token "$RT" --session-ttl 3
for v in CS RT TA HK; do printf '%s\n' "${!v}" >"$WORK/$v.secret"; chmod 600 "$WORK/$v.secret"; done
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
chmod 600 "$WORK/tls.key"
# a port nothing listens on: every alert delivery fails, and its errors are logged
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$(dirname "$0")/security_secrets_config.py" "$WORK" "$URL_sf" "$CLIENT_ID" "$DEAD_PORT" >"$WORK/clm.yaml"
CLMSYNC_READ_TOKEN=$TR start_clmsync clm --config "$WORK/clm.yaml" --log-format json

SF_URL=$URL_sf CLM_URL=$URL_clm ADMIN_URL=$ADMIN_clm CLIENT_ID=$CLIENT_ID CLMSYNC=$BUILD/clmsync WORK=$WORK \
	python3 "$(dirname "$0")/security_secrets.py" || FAILS=$((FAILS + 1))
kill "$PID_clm"; wait_dead "$PID_clm"
python3 "$(dirname "$0")/security_scan.py" "$WORK" && ok "no secret in the log, the answers or the store" || bad "a secret leaked (above)"
finish
