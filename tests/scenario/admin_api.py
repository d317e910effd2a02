"""admin_api.py - the admin listener end to end (run by test_admin_api.sh)."""
import os
import signal
import subprocess
import sys
import urllib.parse

from sync_lib import CLM, SF, Http, check, finish, wait_for

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian's package, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

ADMIN = os.environ["CLM_ADMIN_TOKEN"]
READ = os.environ["CLM_READ_TOKEN"]
sf = SF(os.environ["SF_URL"])
clm = CLM(os.environ["CLM_URL"], ADMIN)
adm = Http(os.environ["ADMIN_URL"])


def a(method, path, body=None, token=ADMIN, raw=False):
    h = {"Authorization": "Bearer " + token} if token else {}
    return adm.call(method, path, body, h, raw=raw)


def q(s):
    return urllib.parse.quote(s, safe="")


# --- who may call what -------------------------------------------------------------------
st, b = a("GET", "/healthz", token=None)
check(st == 200 and b == {"status": "ok"}, "/healthz answers without a token", (st, b))
st, b = a("GET", "/admin/v1/status", token=None)
check(st == 401 and b["error"]["code"] == "unauthenticated", "status without a token: 401", (st, b))
st, b = a("GET", "/metrics", token=None)
check(st == 401, "metrics without a token: 401", st)
st, b = a("GET", "/admin/v1/status", token="not-a-token-at-all-000000")
check(st == 401, "a wrong token: 401", st)
st, b = a("GET", "/admin/v1/status", token=READ)
check(st == 403 and b["error"]["code"] == "forbidden", "a read token: 403", (st, b))
st, b = a("GET", "/admin/v1/nothing-here")
check(st == 404 and b["error"]["code"] == "not_found", "unknown endpoint: 404 in JSON", (st, b))


def ready():
    st, b = a("GET", "/readyz", token=None)
    return b if st == 200 else None


got = wait_for(ready, 20, "readyz 200")
check(got is not None and got["ready"] is True, "/readyz: ready once the stream is connected", got)

# --- a synced pair, seen through status, links and lineage --------------------------------
cp = clm.create("counterparties", {"legal_name": "Admin Corp", "custom": {"industry": "Software"}})
ct = clm.create("contracts", {"title": "Admin MSA", "type": "msa", "counterparty_id": cp["id"],
                              "description": "first"})


def linked():
    r = sf.by_ext("Contract", "CLM_Id__c", ct["id"])
    return r[0]["Id"] if r else None


sfc = wait_for(linked, 20, "contract in Salesforce")
check(sfc is not None, "the contract reached Salesforce")

st, s = a("GET", "/admin/v1/status")
check(st == 200, "status: 200", (st, s))
org = s["orgs"][0]
maps = {m["name"]: m for m in org["mappings"]}
check(org["org"] == "sf" and org["stream"]["connected"] is True, "status: the org's stream is connected", org["stream"])
check(maps["contracts"]["counters"]["to_salesforce"] >= 1, "status: the contract write is counted",
      maps["contracts"]["counters"])
check(all(k in org for k in ("inbox", "outbox", "feed_backlog", "lag_ms", "oldest_pending_ms", "api", "reconcile")),
      "status: queues, lag, API usage and reconcile are reported", sorted(org))
check(isinstance(org["stream"].get("positions"), dict), "status: replay positions with their retention left",
      org["stream"])

# --- the lag history the server keeps ------------------------------------------------------
st, lg = a("GET", "/admin/v1/lag")
check(st == 200 and lg["interval_s"] == 10 and lg["window_s"] == 3600 and [o["org"] for o in lg["orgs"]] == ["sf"]
      and len(lg["orgs"][0]["samples"]) >= 1, "lag: the server's history, sampled from its start", lg)
smp = lg["orgs"][0]["samples"][0] if st == 200 and lg["orgs"][0]["samples"] else {}
check(sorted(smp) == sorted(["t", "lag_ms", "lag_to_salesforce_ms", "lag_to_clm_ms", "inbox", "outbox", "feed_backlog",
                             "to_salesforce", "to_clm"]) and smp["t"] <= lg["now_ms"],
      "lag: a sample's figures", smp)
for bad in ("0", "3601", "ten"):
    st, b = a("GET", "/admin/v1/lag?window=" + bad)
    check(st == 400 and b["error"]["code"] == "invalid", "lag: window=%s is refused" % bad, (st, b))
st, b = a("GET", "/admin/v1/lag", token=None)
check(st == 401, "lag without a token: 401", st)
st, b = a("GET", "/admin/v1/lag?window=1")
check(st == 200 and all(x["t"] >= b["now_ms"] - 1000 for x in b["orgs"][0]["samples"]), "lag: a window of 1 s", b)


def written_to_sf():
    st, b = a("GET", "/admin/v1/lag")
    ss = b["orgs"][0]["samples"] if st == 200 else []
    n = sum(x["to_salesforce"] for x in ss if x["to_salesforce"] is not None)
    return ss if n >= 2 else None


ss = wait_for(written_to_sf, 30, "a sample after the writes")
check(ss is not None and len(ss) >= 2 and all(ss[i]["t"] - ss[i - 1]["t"] >= 9000 for i in range(1, len(ss))),
      "lag: a sample every 10 s, counting the records written to Salesforce between them", ss)

st, b = a("GET", "/admin/v1/links?clm=" + q(ct["id"]))
check(st == 200 and [l["sf"] for l in b["links"] if l["mapping"] == "contracts"] == [sfc],
      "links by repository id", (st, b))
st, b = a("GET", "/admin/v1/links?sf=" + sfc)
check(st == 200 and len(b["links"]) == 1 and b["links"][0]["clm"] == ct["id"], "links by Salesforce id", (st, b))
st, b = a("GET", "/admin/v1/links")
check(st == 400, "links with no id: 400", st)

st, b = a("GET", "/admin/v1/lineage/contract/" + q(ct["id"]))
fields = {}
if st == 200 and b["mappings"]:
    fields = {f["field"]: f for f in b["mappings"][0]["fields"]}
check(st == 200 and fields.get("title", {}).get("clm_value") == "Admin MSA" and
      fields["title"]["salesforce_value"] == "Admin MSA", "lineage: both sides' value of the title", (st, b))
check(fields.get("title", {}).get("last_change") is not None, "lineage: the audit row behind the title", fields.get("title"))
st, b = a("GET", "/admin/v1/lineage/widget/x")
check(st == 404, "lineage of an entity no mapping syncs: 404", st)

# --- pause holds both sides; resume brings them back as a manual conflict -----------------
st, b = a("POST", "/admin/v1/mappings/contracts/pause", {"reason": "cutover rehearsal"})
check(st == 200 and b["paused"] is True and b["reason"] == "cutover rehearsal", "pause: 200", (st, b))
st, b = a("POST", "/admin/v1/mappings/nope/pause")
check(st == 404, "pause of an unknown mapping: 404", st)
st, b = a("POST", "/admin/v1/mappings/contracts/pause", "{not json")
check(st == 400 and b["error"]["code"] == "invalid_json", "pause with a broken body: 400", (st, b))

st, _ = clm.patch("contracts", ct["id"], {"description": "repository while paused"})
check(st == 200, "repository edited while paused")
sf.update("Contract", sfc, {"Description": "salesforce while paused"})


def held():
    st, b = a("GET", "/admin/v1/mappings")
    p = [m["pause"] for m in b["mappings"] if m["name"] == "contracts"][0]
    return p if p.get("held_clm", 0) >= 1 and p.get("held_salesforce", 0) >= 1 else None


p = wait_for(held, 20, "both changes held")
check(p is not None, "paused: each side's change is held, not synced", p)
check(sf.get("Contract", sfc)["Description"] == "salesforce while paused" and
      clm.get("contracts", ct["id"])["description"] == "repository while paused",
      "paused: neither side was written")

st, text = a("GET", "/metrics", raw=True)
fams = {f.name: f for f in text_string_to_metric_families(text.decode())} if st == 200 else {}


def value(fam, **labels):
    for smp in fams[fam].samples if fam in fams else []:
        if all(smp.labels.get(k) == v for k, v in labels.items()):
            return smp.value
    return None


check(st == 200 and value("clmsync_mapping_paused", mapping="contracts") == 1, "metrics: the pause", fams.keys())
check(value("clmsync_stream_connected", org="sf") == 1, "metrics: the stream is up")
check((value("clmsync_records_applied", mapping="contracts", to="salesforce") or 0) >= 1,
      "metrics: records applied by mapping and direction")
hist = [smp for smp in fams["clmsync_sync_latency_seconds"].samples] if "clmsync_sync_latency_seconds" in fams else []
buckets = [smp.value for smp in hist if smp.name.endswith("_bucket") and smp.labels["direction"] == "to_salesforce"]
check(len(buckets) == 13 and buckets == sorted(buckets) and buckets[-1] >= 1,
      "metrics: the latency histogram is cumulative and counts the writes", buckets)
check(value("clmsync_queue_depth", queue="outbox") is not None and "clmsync_build_info" in fams,
      "metrics: queue depths and build info", sorted(fams))

st, b = a("POST", "/admin/v1/mappings/contracts/resume")
check(st == 200 and b["paused"] is False and b["queued"] >= 2, "resume: the held records are queued", (st, b))


def conflict():
    st, b = a("GET", "/admin/v1/conflicts")
    c = [x for x in b["conflicts"] if x["clm"] == ct["id"] and x["field"] == "description"]
    return c[0] if c else None


c = wait_for(conflict, 20, "conflict parked")
check(c is not None and c["clm_value"] == "repository while paused" and c["sf_value"] == "salesforce while paused",
      "after resume: both edits of the manual field meet as a conflict", c)
if c:
    st, b = a("GET", "/admin/v1/conflicts/" + c["id"])
    check(st == 200 and b["base"] == "first", "conflict: shown with its base", (st, b))
    st, b = a("POST", "/admin/v1/conflicts/" + c["id"] + "/resolve", {"take": "neither"})
    check(st == 400, "resolve with a bad choice: 400", (st, b))
    st, b = a("POST", "/admin/v1/conflicts/" + c["id"] + "/resolve", {"take": "salesforce"})
    check(st == 202, "resolve: 202 while the engine settles it", (st, b))
    gone = wait_for(lambda: a("GET", "/admin/v1/conflicts/" + c["id"])[0] == 404, 20, "conflict resolved")
    check(gone, "the conflict is gone once settled")
    same = wait_for(lambda: clm.get("contracts", ct["id"])["description"] == "salesforce while paused" and
                    sf.get("Contract", sfc)["Description"] == "salesforce while paused", 20, "both sides equal")
    check(same, "both sides hold Salesforce's value")

# --- the dead-letter queue: a lifecycle move the repository refuses ------------------------
sf.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "Expired"})   # draft -> expired is not a transition


def dlq_entry(exclude=()):
    st, b = a("GET", "/admin/v1/dlq")
    e = [x for x in b["entries"] if x["clm"] == ct["id"] and x["id"] not in exclude]
    return e[0] if e else None


d = wait_for(dlq_entry, 20, "DLQ entry")
check(d is not None and d["direction"] == "clm" and "transition" in (d["error"]["message"] + d["error"]["code"]).lower(),
      "a refused lifecycle move lands in the DLQ with the reason", d)
check(clm.get("contracts", ct["id"])["status"] == "draft", "the repository record is unchanged")


def dlq_figures():
    st, b = a("GET", "/admin/v1/status")
    m = {x["name"]: x for x in b["orgs"][0]["mappings"]}
    return b.get("dlq"), m["contracts"].get("dlq"), m["counterparties"].get("dlq")


check(dlq_figures() == (1, 1, 0), "status: the entry counted, for its mapping only", dlq_figures())
if d:
    st, b = a("GET", "/admin/v1/dlq/" + d["id"])
    check(st == 200 and b["id"] == d["id"], "dlq: one entry", (st, b))
    st, b = a("POST", "/admin/v1/dlq/" + d["id"] + "/replay")
    check(st == 200 and b["result"] == "replayed", "dlq: replay", (st, b))
    st, b = a("GET", "/admin/v1/dlq/" + d["id"])
    check(st == 404, "dlq: the replayed entry left the queue", st)
    d2 = wait_for(lambda: dlq_entry(exclude=(d["id"],)), 20, "refused again")
    check(d2 is not None, "replayed, the same move is refused again (the cause is not fixed)", d2)
    if d2:
        st, b = a("POST", "/admin/v1/dlq/" + d2["id"] + "/discard")
        check(st == 400, "discard without a reason: 400", (st, b))
        st, b = a("POST", "/admin/v1/dlq/" + d2["id"] + "/discard", {"reason": "expired by mistake in Salesforce"})
        check(st == 200 and b["result"] == "discarded", "discard with a reason", (st, b))
        check(dlq_figures() == (0, 0, 0), "status: no entry counted once it is discarded", dlq_figures())
        st, b = a("GET", "/admin/v1/audit?decision=discarded&record=" + q(ct["id"]))
        check(st == 200 and any(r["detail"] == "expired by mistake in Salesforce" for r in b["rows"]),
              "audit: the discard and its reason", (st, b))
st, b = a("POST", "/admin/v1/dlq/replay", {})
check(st == 400, "replay of every entry needs {\"all\": true}", st)
st, b = a("POST", "/admin/v1/dlq/replay", {"all": True})
check(st == 200 and b["failed"] == 0, "replay of every entry", (st, b))

# --- reconcile, audit, config -------------------------------------------------------------
st, b = a("POST", "/admin/v1/reconcile", {"mapping": "contracts", "repair": False})
check(st == 202 and len(b["requests"]) == 1, "reconcile: requested", (st, b))
if st == 202:
    rid = b["requests"][0]["id"]
    res = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(a("GET", "/admin/v1/reconcile/" + rid)), 30,
                   "reconcile done")
    check(res is not None and res["done"] is True and res["checked"] >= 1 and res["ok"] is True,
          "reconcile: done, with what it compared", res)
    # without --repair the drift is only reported: an audit row says so, and nothing is written
    st, b = a("GET", "/admin/v1/audit?decision=drift&record=" + q(ct["id"]))
    check(st == 200 and any(r.get("detail") == "reported" for r in b["rows"]),
          "reconcile without repair: the drift it found has its audit row", b)
    # the drift it found (Salesforce's Expired against the repository's draft), now repaired
    st, b = a("POST", "/admin/v1/reconcile", {"mapping": "contracts", "repair": True})
    rid = b["requests"][0]["id"] if st == 202 else ""
    fixed = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(a("GET", "/admin/v1/reconcile/" + rid)), 30,
                     "repairing reconcile done")
    st, text = a("GET", "/metrics", raw=True)
    fams = {f.name: f for f in text_string_to_metric_families(text.decode())} if st == 200 else {}
    rep = [smp.value for smp in fams["clmsync_reconcile_repaired"].samples] if "clmsync_reconcile_repaired" in fams else []
    check(fixed is not None and fixed["drift"] >= 1 and rep and rep[0] >= fixed["drift"],
          "a repairing reconcile counts what it healed (clmsync_reconcile_repaired_total)", (fixed, rep))
st, b = a("POST", "/admin/v1/reconcile", {"mapping": "nope"})
check(st == 404, "reconcile of an unknown mapping: 404", st)

st, b = a("GET", "/admin/v1/audit?decision=paused")
check(st == 200 and any("cutover rehearsal" in (r.get("detail") or "") for r in b["rows"]), "audit: the pause", (st, b))
st, b = a("GET", "/admin/v1/audit?record=" + q(ct["id"]) + "&limit=2")
check(st == 200 and len(b["rows"]) == 2 and b["next"] is not None, "audit: paged", (st, b))
if st == 200 and b["next"] is not None:
    st2, b2 = a("GET", "/admin/v1/audit?record=" + q(ct["id"]) + "&limit=2&after=%d" % b["next"])
    check(st2 == 200 and b2["rows"] and b2["rows"][0]["seq"] > b["rows"][-1]["seq"], "audit: the next page", (st2, b2))
st2, b2 = a("GET", "/admin/v1/audit?limit=1000")
st, b = a("GET", "/admin/v1/audit?decision=no-such-decision")   # the log may only have grown since
check(st == 200 and b["rows"] == [] and b["next"] is None and st2 == 200 and b2["rows"] and
      b["scanned_to"] >= b2["rows"][-1]["seq"] > 0, "audit: scanned_to, where a follower goes on, even when nothing matched",
      (b, b2.get("scanned_to")))
st, b = a("GET", "/admin/v1/audit?since=yesterday")
check(st == 400, "audit with a bad time: 400", st)

st, text = a("GET", "/admin/v1/config", raw=True)
body = text.decode() if isinstance(text, bytes) else str(text)
check(st == 200 and "mappings:" in body, "config: the running configuration", st)
leaks = [v for v in (ADMIN, READ, os.environ["CLMSYNC_TEST_SECRET"]) if v in body]
check(not leaks, "config: no secret in it", leaks)

# --- the lag history follows a write Salesforce is slow to take -------------------------------
st, _ = sf.emu("POST", "faults", {"latency_ms": 12000, "latency_rate": 1000})
check(st == 200, "sfemu: every call answers after 12 s")
clm.patch("contracts", ct["id"], {"title": "Admin MSA, edited while Salesforce is slow"})


def lagging():
    st, b = a("GET", "/admin/v1/lag?window=60")
    ss = b["orgs"][0]["samples"] if st == 200 else []
    return ss[-1] if ss and ss[-1]["lag_to_salesforce_ms"] > 0 and ss[-1]["outbox"] >= 1 else None


lg = wait_for(lagging, 30, "a sample with the lag to Salesforce")
check(lg is not None and lg["lag_ms"] >= lg["lag_to_salesforce_ms"] > 0 and lg["lag_to_clm_ms"] == 0,
      "lag: the samples follow a change waiting for Salesforce, in its direction", lg)
sf.emu("POST", "faults", {"latency_ms": 0, "latency_rate": 0})
check(wait_for(lambda: a("GET", "/admin/v1/status")[1]["orgs"][0]["outbox"] == 0, 40, "the write made"),
      "the slow write is made, the outbox empty again")

# --- readiness follows the stream ------------------------------------------------------------
sfport = urllib.parse.urlparse(os.environ["SF_URL"]).port
os.kill(int(os.environ["SF_PID"]), signal.SIGKILL)


def unready():
    st, b = a("GET", "/readyz", token=None)
    return b if st == 503 else None


u = wait_for(unready, 30, "readyz 503")
check(u is not None and any(c["check"] == "stream" and not c["ok"] for c in u["checks"]),
      "/readyz: 503 once the stream has been down past the threshold", u)
st, b = a("GET", "/healthz", token=None)
check(st == 200, "/healthz: still alive", st)

emu = subprocess.Popen([os.environ["SFEMU"], "--listen", "127.0.0.1:%d" % sfport], stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(os.environ["WORK"], "sf2.log"), "w"))
try:
    back = wait_for(ready, 40, "readyz 200 again")
    check(back is not None, "/readyz: ready again once the stream reconnects", back)
finally:
    emu.terminate()
    emu.wait()
finish()
