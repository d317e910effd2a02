#!/usr/bin/env bash
# test_systemd_unit.sh - config/clmsync.service: the hardening it promises is there, its command
# line is one clmsync takes, the example configuration writes only where the unit lets it; and,
# where systemd-analyze exists, `systemd-analyze verify` finds nothing to say and the offline
# security review rates its exposure at most 2.0.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$SRC/config/clmsync.service

if python3 - "$UNIT" "$SRC/config/examples/clmsync.yaml" <<'PY'
import re, sys
import yaml
unit, example = sys.argv[1], sys.argv[2]
keys = {}
section = None
for line in open(unit):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("["):
        section = line.strip("[]")
        continue
    k, v = line.split("=", 1)
    keys.setdefault((section, k), []).append(v)
svc = lambda k: keys.get(("Service", k), [])
fails = []
want = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "MemoryDenyWriteExecute": "yes", "Restart": "on-failure", "PrivateDevices": "yes",
        "RestrictNamespaces": "yes", "LockPersonality": "yes", "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "", "SystemCallArchitectures": "native"}
for k, v in want.items():
    if svc(k) != [v]:
        fails.append("%s=%s wanted, found %s" % (k, v, svc(k)))
if "@system-service" not in svc("SystemCallFilter"):
    fails.append("SystemCallFilter=@system-service missing")
if set(" ".join(svc("RestrictAddressFamilies")).split()) != {"AF_UNIX", "AF_INET", "AF_INET6"}:
    fails.append("RestrictAddressFamilies should be AF_UNIX AF_INET AF_INET6: %s" % svc("RestrictAddressFamilies"))
if not (svc("User") and svc("User") != ["root"]) and svc("DynamicUser") != ["yes"]:
    fails.append("neither a dedicated User= nor DynamicUser=yes")
start = svc("ExecStart")
if len(start) != 1 or not re.search(r"clmsync serve --config \S+", start[0]):
    fails.append("ExecStart should run clmsync serve --config FILE: %s" % start)
rw = " ".join(svc("ReadWritePaths")).split()
cfg = yaml.safe_load(open(example))
for what, path in (("store", cfg["store"].split(":", 1)[1]), ("data_dir", cfg["data_dir"])):
    if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in rw):
        fails.append("the example's %s %s is not under ReadWritePaths %s" % (what, path, rw))
if keys.get(("Install", "WantedBy")) != ["multi-user.target"]:
    fails.append("WantedBy=multi-user.target missing")
for f in fails:
    print("   " + f)
sys.exit(1 if fails else 0)
PY
then ok "the unit has its hardening, a dedicated user, Restart=on-failure and the data dir writable"
else bad "the unit's directives"; fi

# the command line it runs is one clmsync takes
ARGS=$(sed -n 's|^ExecStart=[^ ]*clmsync serve ||p' "$UNIT")
if "$BUILD/clmsync" serve --help | grep -q -- "--log-format" && [ -n "$ARGS" ] &&
	"$BUILD/clmsync" serve $ARGS --help >/dev/null; then
	ok "clmsync serve takes the unit's options ($ARGS)"
else
	bad "clmsync serve does not take the unit's options: $ARGS"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants the binaries the unit names to exist: the built one stands in for the installed one
	sed "s|/usr/local/bin/clmsync|$BUILD/clmsync|g" "$UNIT" >"$WORK/clmsync.service"
	out=$(systemd-analyze verify "$WORK/clmsync.service" 2>&1) || true
	if [ -z "$out" ]; then ok "systemd-analyze verify: nothing to say"; else bad "systemd-analyze verify: $out"; fi
	if systemd-analyze security --help 2>/dev/null | grep -q -- "--offline"; then
		score=$(systemd-analyze security --offline=yes "$WORK/clmsync.service" 2>&1 |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		if [ -n "$score" ] && python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)"; then
			ok "systemd-analyze security: exposure $score (at most 2.0)"
		else
			bad "systemd-analyze security: exposure '$score', wanted at most 2.0"
		fi
	else
		echo "SKIP systemd-analyze security --offline is not supported by this systemd"
	fi
else
	echo "SKIP systemd-analyze is not installed: the unit is not verified by systemd"
fi
finish
