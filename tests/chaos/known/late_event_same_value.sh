#!/usr/bin/env bash
# late_event_same_value.sh BUILD - an engine bug the chaos soak found (full-21, seed 350260225),
# now fixed: run by `make check` as chaos.found.late_event_same_value, it exits 1 should the bug
# come back.
#
# The repository sets a counterparty's Industry to Finance, then Healthcare, then Finance again,
# while the stream lags behind: the writes are answered and no longer awaited before their own
# events come (here clmsync-chaos awaits them 1 s, CLMSYNC_SENT_KEEP_MS, instead of two minutes).
# The first write's event then comes alone. It was taken for the third write's, and showed the
# second with it: both were forgotten a keep time later, before their own events came, and the
# second's event passed for a Salesforce edit: the repository took Healthcare back (in the soak,
# with salesforce_wins, for good). An event of ours is now of the oldest entry it shows.
. "$(dirname "$0")/known.sh"

start_sfemu sf
export CLMSYNC_SENT_KEEP_MS=1000
CLMSYNC_BIN=$BUILD/clmsync-chaos start_sync clm "sf=$URL_sf"
known_py $BUILD/clmsync-chaos <<'PY'
import json
import time
from conflict_common import cli, clm, linked_account, release, sf
from sync_lib import check, finish, wait_for


def events():
    return sf.emu("GET", "events")[1]


def ours(e, field):
    h = e["payload"]["ChangeEventHeader"]
    return "client=clmsync" in (h.get("changeOrigin") or "") and field in (h.get("changedFields") or ())


cp, acct = linked_account("Same Value Again Co")
held = events()[-1]["replayId"]
sf.emu("POST", "streaming", {"deliver_until": held})     # the stream lags: later events held back
for v, sv in (("Finance", "Finance"), ("Healthcare", "Healthcare"), ("Finance", "Finance")):
    clm.patch("counterparties", cp, {"custom": {"industry": v}})
    check(wait_for(lambda: sf.get("Account", acct)["Industry"] == sv, 10), "the repository's %s is written" % v)
mine = [e["replayId"] for e in events() if e["replayId"] > held and ours(e, "Industry")]
check(len(mine) == 3, "three writes of ours, their events held back", mine)
time.sleep(1.2)     # past the 1 s keep: the writes are no longer awaited when their events come
release("the first write's event, alone, is planned", until=mine[0])
time.sleep(1.2)     # another keep: what that event showed is forgotten by now
release("the other events are planned")
code, out, err = cli("audit", "search", cp, "--decision", "applied", "--json")
taken = [r for r in (json.loads(out).get("rows", []) if code == 0 else [None])
         if r is None or (r.get("side") == "clm" and r.get("field") == "custom.industry")]
check(code == 0 and not taken, "no event of ours taken for a Salesforce edit of Industry", (code, taken, err))
got = (clm.get("counterparties", cp)["custom"].get("industry"), sf.get("Account", acct)["Industry"])
check(got == ("Finance", "Finance"), "both sides keep the repository's last value", got)
finish()
PY
finish
