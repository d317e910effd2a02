#!/usr/bin/env bash
# test_security_privdrop.sh - started as root with server.user, `clmsync serve` reads its secret
# files (root's alone) and binds its listeners as root, then runs as that user with no way back:
# every uid and gid is the user's, no supplementary group, no capability; the store it opens is
# the user's. server.user naming root or no one is refused. Skipped (77) when not run as root.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then echo "not root: nothing to drop (skipped)"; exit 77; fi
id nobody >/dev/null 2>&1 || { echo "no user nobody (skipped)"; exit 77; }
NUID=$(id -u nobody)
NGID=$(id -g nobody)
chmod 711 "$WORK"     # nobody must reach its data directory below; nothing else here is readable

TOKEN=privdrop-token-$RANDOM$RANDOM-0123456789
printf '%s\n' "$TOKEN" >"$WORK/admin.token"
chmod 600 "$WORK/admin.token"     # root's alone: read before the drop, or not at all
cat >"$WORK/p.yaml" <<EOF
server:
  user: nobody
api_tokens:
  - {name: ops, role: admin, token_file: $WORK/admin.token}
EOF
start_clmsync p --config "$WORK/p.yaml"

st=/proc/$PID_p/status
read -r _ r e s f < <(grep '^Uid:' "$st")
[ "$r $e $s $f" = "$NUID $NUID $NUID $NUID" ] && ok "real, effective, saved and filesystem uid are nobody's" \
	|| bad "Uid: $r $e $s $f"
read -r _ r e s f < <(grep '^Gid:' "$st")
[ "$r $e $s $f" = "$NGID $NGID $NGID $NGID" ] && ok "every gid is nobody's group" || bad "Gid: $r $e $s $f"
groups=$(grep '^Groups:' "$st" | cut -f2 | tr -d ' ')
if [ -z "$groups" ] || [ "$groups" = "$NGID" ]; then ok "no supplementary groups ('$groups')"; else bad "Groups: $groups"; fi
for cap in CapInh CapPrm CapEff CapAmb; do
	v=$(awk -v k="$cap:" '$1==k{print $2}' "$st")
	[ "$v" = 0000000000000000 ] && ok "$cap empty" || bad "$cap $v"
done
grep -q "now running as nobody (uid $NUID, gid $NGID)" "$WORK/p.log" && ok "the drop is logged" || bad "no drop in the log"

# it serves, with the token it read as root, and writes a store that is nobody's
req POST "$URL_p/api/v1/counterparties" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"legal_name":"Privdrop GmbH","country":"DE"}'
expect_status 201 "a write through the API after the drop"
owner=$(stat -c %u "$DATA_p" "$DATA_p/clmsync.db" | sort -u)
[ "$owner" = "$NUID" ] && ok "the data directory and the store are nobody's" || bad "owners: $owner"
[ "$(stat -c %u:%a "$WORK/admin.token")" = 0:600 ] && ok "the token file stays root's, mode 600" || bad "token file changed"
kill "$PID_p"; wait_dead "$PID_p"
grep -q "serve.stop" "$WORK/p.log" && ok "stops cleanly on SIGTERM" || bad "no clean stop"

# server.user naming root, or no such user: refused before anything is served
for u in root no-such-user-here; do
	sed "s/user: nobody/user: $u/" "$WORK/p.yaml" >"$WORK/u.yaml"
	if "$BUILD/clmsync" serve --config "$WORK/u.yaml" --data "$WORK/u-data" --listen 127.0.0.1:0 \
		--admin-listen off >/dev/null 2>"$WORK/u.err"; then
		bad "serve ran with server.user $u"
	else
		grep -q "server.user $u" "$WORK/u.err" && ok "server.user $u is refused" || bad "server.user $u: $(cat "$WORK/u.err")"
	fi
done
finish
