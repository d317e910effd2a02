#!/usr/bin/env bash
# read_over_answered_write.sh BUILD - an engine bug a chaos soak found (full-25, seed 2072798431:
# "an older value came back"), now fixed: run by `make check` as chaos.found.read_over_answered_write,
# it exits 1 should it come back.
#
# A whole-record read (a reconcile, a gap's fetch) made after a write of ours was answered shows
# what Salesforce holds since: a person's later edit is taken into the repository. While the
# write's own change event had not come (the stream behind), the write stayed "in flight", and
# the repository's change that the read itself made came back from the feed weighed against the
# write's value, not against the value just agreed on: it passed for a repository edit and was
# written to Salesforce. In the soak a person's newer edit (made between the read and that
# write) was overwritten on both sides.
#
# Here: the stream is held back; the repository renames a counterparty (Answer X), which is
# written and answered; a person renames the Account (Answer Y); a reconcile reads Answer Y into
# the repository. Then the repository changes another field of the counterparty (industry), whose
# write goes after anything the feed row of Answer Y planned: no write of the name may be among
# them.
. "$(dirname "$0")/known.sh"

start_sfemu sf
start_sync clm "sf=$URL_sf"
known_py <<'PY'
import json
from conflict_common import cli, clm, linked_account, release, sf
from sync_lib import check, finish, wait_for

name = lambda: clm.get("counterparties", cp)["legal_name"]
cp, acct = linked_account("Answer 0")
held = sf.emu("GET", "events")[1][-1]["replayId"]
sf.emu("POST", "streaming", {"deliver_until": held})      # later change events are held back
clm.patch("counterparties", cp, {"legal_name": "Answer X"})
check(wait_for(lambda: sf.get("Account", acct)["Name"] == "Answer X", 10),
      "the repository's rename is written (and answered; its event held back)")
sf.update("Account", acct, {"Name": "Answer Y"})
code, out, err = cli("reconcile", "--mapping", "counterparties", "--repair", "--wait", "60")
check(code in (0, 1) and "compared" in out, "a reconcile reads the Account", (code, out, err))
check(wait_for(lambda: name() == "Answer Y", 10), "the person's later rename reaches the repository", name())
clm.patch("counterparties", cp, {"custom": {"industry": "Finance"}})
check(wait_for(lambda: sf.get("Account", acct).get("Industry") == "Finance", 10),
      "a later change of the counterparty is written (after anything planned before it)")
code, out, err = cli("audit", "search", cp, "--json")
rows = json.loads(out).get("rows", []) if code == 0 else []
back = [r for r in rows if r.get("side") == "salesforce" and r.get("field") == "legal_name" and
        r.get("new") == "Answer Y"]
check(code == 0 and not back, "the value the read brought is not written back to Salesforce as a repository edit",
      (code, back, err))
release("the held events are planned")
got = (name(), sf.get("Account", acct)["Name"])
check(wait_for(lambda: (name(), sf.get("Account", acct)["Name"]) == ("Answer Y", "Answer Y"), 10),
      "both sides end on the person's rename", got)
finish()
PY
finish
