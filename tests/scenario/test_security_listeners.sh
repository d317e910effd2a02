#!/usr/bin/env bash
# test_security_listeners.sh - what `clmsync serve`'s listeners do against hostile clients: a burst
# of bad tokens is answered 429 until its window ends (a good token from the same address too,
# another address unaffected); slowloris connections are cut at the header deadline while others
# are served; one address cannot take every connection; HTTPS with a self-signed certificate
# (curl --cacert, and the CLI trusting it); a key file others may read, and plain http to a
# remote host, are configuration errors naming file, line and key.
. "$(dirname "$0")/lib.sh"

# --- 1. failed tokens are throttled per client address ------------------------------------------
cat >"$WORK/t.yaml" <<EOF
server:
  auth_failures: 5
  auth_window_s: 3
  header_timeout_s: 2
  idle_timeout_s: 30
  max_connections_per_ip: 6
EOF
start_clmsync a --config "$WORK/t.yaml"
TOK=$TOKEN_a
for i in 1 2 3 4 5; do
	req GET "$URL_a/api/v1/contracts" -H "Authorization: Bearer wrong-token-$i"
	[ "$STATUS" = 401 ] || bad "bad token $i: HTTP $STATUS, wanted 401"
done
ok "five bad tokens answered 401"
req GET "$URL_a/api/v1/contracts" -H "Authorization: Bearer $TOK" -D "$WORK/h"
expect_status 429 "the good token from the same address, inside the window"
expect_json 'j["error"]["code"] == "too_many_requests"' "429 is a structured error"
RA=$(tr -d '\r' <"$WORK/h" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
if [ -n "$RA" ] && [ "$RA" -ge 1 ] && [ "$RA" -le 3 ]; then ok "Retry-After $RA s"; else bad "Retry-After '$RA'"; fi
req GET "$ADMIN_a/admin/v1/status" -H "Authorization: Bearer $TOK"
expect_status 429 "the admin listener holds the same address back"
req GET "$URL_a/healthz"
expect_status 200 "health checks need no token and are not held back"
req GET "$URL_a/api/v1/contracts" -H "Authorization: Bearer $TOK" --interface 127.0.0.2
expect_status 200 "another address (127.0.0.2) is not held back"
grep -q 'too many invalid tokens from 127.0.0.1' "$WORK/a.log" && ok "the lockout is logged once with the address" \
	|| bad "no auth.throttle line in the log"
if grep -q "wrong-token" "$WORK/a.log"; then bad "a presented token reached the log"; else ok "no presented token in the log"; fi
# after the window (polled, with a deadline) the good token works again
deadline=$((SECONDS + 10))
while :; do
	req GET "$URL_a/api/v1/contracts" -H "Authorization: Bearer $TOK"
	[ "$STATUS" = 200 ] && break
	[ "$STATUS" = 429 ] || { bad "while waiting: HTTP $STATUS"; break; }
	[ $SECONDS -lt $deadline ] || { bad "still 429 after the window"; break; }
	sleep 0.2
done
[ "$STATUS" = 200 ] && ok "the good token works again once the window is over"

# --- 2. slowloris: cut at the header deadline, others served meanwhile -------------------------
HOSTPORT=${URL_a#http://}
python3 - "$HOSTPORT" "$TOK" <<'EOF' && ok "slow clients cut within the header deadline while others were served" || bad "slowloris"
import http.client, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
tok = sys.argv[2]
t0 = time.monotonic()
silent = socket.create_connection((host, int(port)))            # opens and sends nothing
trickle = socket.create_connection((host, int(port)))           # headers a byte at a time
trickle.settimeout(0.25)
head = b"GET /api/v1/contracts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() + b"\r\nX-Pad: " + b"a" * 200
served, cut_at, i = 0, None, 0
while time.monotonic() - t0 < 8:
    try:
        trickle.send(head[i:i + 1]); i += 1
        if trickle.recv(64) == b"":
            cut_at = time.monotonic() - t0; break
    except socket.timeout:
        pass
    except OSError:
        cut_at = time.monotonic() - t0; break
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/api/v1/contracts", headers={"Authorization": "Bearer " + tok})
    served += c.getresponse().status == 200
    c.close()
silent.settimeout(2)
try:
    silent_cut = silent.recv(1) == b""
except OSError:
    silent_cut = True
print("trickler cut after %s s, %d requests served meanwhile, silent cut: %s" % (cut_at, served, silent_cut))
sys.exit(0 if cut_at is not None and cut_at < 4.5 and served >= 3 and silent_cut else 1)
EOF

# --- 3. one address cannot take every connection ------------------------------------------------
python3 - "$HOSTPORT" "$TOK" <<'EOF' && ok "a 7th connection from one address is closed; another address is served" || bad "per-address limit"
import http.client, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
held = [socket.create_connection((host, int(port))) for _ in range(6)]
extra = socket.create_connection((host, int(port)))
extra.settimeout(3)
try:
    closed = extra.recv(1) == b""
except OSError:
    closed = True
other = socket.create_connection((host, int(port)), source_address=("127.0.0.2", 0))
other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
other.settimeout(5)
answer = other.recv(64)
print("extra closed: %s, other address: %r" % (closed, answer[:15]))
sys.exit(0 if closed and answer.startswith(b"HTTP/1.1 200") else 1)
EOF
kill "$PID_a"; wait_dead "$PID_a"

# --- 4. HTTPS listeners with a self-signed certificate -----------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
chmod 600 "$WORK/tls.key"
cat >"$WORK/tls.yaml" <<EOF
repository:
  tls_cert_file: $WORK/tls.crt
  tls_key_file: $WORK/tls.key
admin:
  listen: 127.0.0.1:1
  tls_cert_file: $WORK/tls.crt
  tls_key_file: $WORK/tls.key
EOF
start_clmsync s --config "$WORK/tls.yaml"
case "$URL_s" in https://*) ok "serve prints an https:// URL: $URL_s" ;; *) bad "serve printed $URL_s" ;; esac
req GET "$URL_s/api/v1/contracts" --cacert "$WORK/tls.crt" -H "Authorization: Bearer $TOKEN_s"
expect_status 200 "curl --cacert: the repository over HTTPS"
req GET "$ADMIN_s/admin/v1/status" --cacert "$WORK/tls.crt" -H "Authorization: Bearer $TOKEN_s"
expect_status 200 "curl --cacert: the admin API over HTTPS"
req GET "$URL_s/healthz"
[ "$STATUS" = 000 ] && ok "without --cacert curl refuses the certificate" || bad "unverified HTTPS: HTTP $STATUS"
req GET "http://${URL_s#https://}/healthz"
[ "$STATUS" != 200 ] && ok "plain http to the HTTPS port gets no answer" || bad "plain http answered 200"
# the CLI reaches the HTTPS admin listener, trusting its certificate from the configuration
sed -i "s/listen: 127.0.0.1:1/listen: ${ADMIN_s#https://}/" "$WORK/tls.yaml"
if "$BUILD/clmsync" status --config "$WORK/tls.yaml" --data "$DATA_s" --json >"$WORK/st.json" 2>"$WORK/st.err"; then
	ok "clmsync status over HTTPS"
else
	rc=$?
	# exit 1 is "unhealthy" (no orgs here is healthy; tolerate it), anything else is a failure to reach
	[ $rc = 1 ] && ok "clmsync status over HTTPS (answered)" || bad "clmsync status: exit $rc: $(cat "$WORK/st.err")"
fi
kill "$PID_s"; wait_dead "$PID_s"

# --- 5. configuration errors: a readable key, plain http to a remote host -----------------------
chmod 640 "$WORK/tls.key"
if "$BUILD/clmsync" serve --config "$WORK/tls.yaml" --data "$WORK/x-data" --listen 127.0.0.1:0 >/dev/null 2>"$WORK/k.err"; then
	bad "serve started with a key file its group may read"
else
	grep -q "tls.yaml:3: repository.tls_key_file: $WORK/tls.key is accessible to its group (mode 0640); restrict it with chmod 600" "$WORK/k.err" \
		&& ok "a key file its group may read is refused, naming file, line, key and chmod 600" || bad "key error: $(cat "$WORK/k.err")"
fi
if grep -q "BEGIN" "$WORK/k.err"; then bad "key text in the error"; else ok "no key text in the error"; fi
cat >"$WORK/plain.yaml" <<EOF
orgs:
  - name: main
    login_url: http://login.salesforce.com
    auth: {type: client_credentials, client_id: c, client_secret_env: S}
EOF
if S=x "$BUILD/clmsync" config check "$WORK/plain.yaml" >/dev/null 2>"$WORK/p.err"; then
	bad "config check passed plain http to a remote host"
else
	grep -q "plain.yaml:3: orgs\[0\].login_url: plain http is allowed only to a loopback address" "$WORK/p.err" \
		&& ok "plain http to a remote login_url is an error with file, line and key" || bad "$(cat "$WORK/p.err")"
fi
finish
