"""report.py - the chaos soak's Markdown report (bench/results/chaos-<date>.md), from chaos.py's figures."""
import datetime
import platform

# sfemu's counters, as the report names them (docs/sfemu.md)
KINDS = [
    ("fault.503", "503 SERVER_UNAVAILABLE answered"),
    ("fault.lock", "400 UNABLE_TO_LOCK_ROW answered"),
    ("fault.drop", "connection dropped before anything was done"),
    ("fault.lost", "write committed, its answer lost"),
    ("fault.latency", "request delayed (latency spike)"),
    ("fault.session", "401 INVALID_SESSION_ID answered (expired session)"),
    ("fault.limit", "403 REQUEST_LIMIT_EXCEEDED answered"),
    ("inject.expire-sessions", "every session expired"),
    ("inject.expire-clients", "every streaming client forgotten"),
    ("inject.expire-events", "replay window passed (while clmsync was down)"),
    ("inject.limit-reached", "daily API limit reached"),
    ("inject.limit-reset", "daily API limit reset"),
    ("inject.gap.GAP_UPDATE", "GAP_UPDATE published (the change applied, its event lost)"),
    ("inject.gap.GAP_CREATE", "GAP_CREATE published"),
    ("inject.gap.GAP_DELETE", "GAP_DELETE published"),
    ("inject.gap.GAP_OVERFLOW", "GAP_OVERFLOW published"),
]


def _cell(s, n=160):
    s = str(s).replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[:n - 1] + "…"


def write_report(path, d):
    passed = sum(1 for ok, _, _ in d["results"] if ok)
    failed = len(d["results"]) - passed
    now = datetime.datetime.now(datetime.timezone.utc)
    L = []
    w = L.append
    w("# Chaos soak — %s" % now.strftime("%Y-%m-%d %H:%M UTC"))
    w("")
    w("**%s**: %d checks passed, %d failed. Seed `%d`. %d changes, %d kills with SIGKILL, wall time %.0f s "
      "(workload %.0f s, convergence and checks %.0f s)." % (
          "PASSED" if not failed else "FAILED", passed, failed, d["seed"], d["total_changes"], d["kills"], d["wall"],
          d["t_load"], d["wall"] - d["t_load"]))
    w("")
    w("Outcome against the target (0 lost, 0 duplicated, 0 unexplained drift): %d Salesforce records "
      "duplicated; %d repository contracts made a second time from a Salesforce Contract deleted meanwhile "
      "(stale_event_after_delete); %d changes lost (an older value back on both sides: stale_read_in_flight); "
      "%d traces of bugs fixed since the soak found them; %d Salesforce changes published only as a gap, "
      "or whose event was never delivered (the replay window expired first), and overwritten by a write of "
      "ours already on its way, which no engine can weigh without the event; %d last writes by a person in Salesforce that changed nothing there (the field "
      "already held the value), which no change event shows. Anything not explained by the dead-letter "
      "queue, a conflict, a gap, an unchanged write or an open bug fails a check below." % (
          d["twins"], d.get("resurrected", 0), d["lost"],
          sum(1 for ok, what, _ in d["results"] if not ok and "fixed since" in what),
          len(d.get("gap_overwritten", [])), len(d.get("no_change", []))))
    w("")
    w("Machine: %s, Python %s. Written by `tests/chaos/chaos.py` (`make chaos`)." % (
        platform.platform(), platform.python_version()))
    w("")
    w("## Rerun")
    w("")
    w("```sh")
    w(d["rerun"] or "CHAOS_SEED=%d make chaos" % d["seed"])
    w("```")
    w("")
    w("The seed fixes the workload and the moments of the chaos; the engine's own timing (threads, "
      "back-off, the network) still varies from run to run.%s" % (
          " The run's store and logs are kept in `%s` (a failed run keeps its work directory)." % d["work"]
          if failed and d.get("work") else ""))
    w("")
    w("## Parameters")
    w("")
    w("| parameter | value |")
    w("|---|---|")
    w("| CHAOS_SEED | %d |" % d["seed"])
    w("| CHAOS_CHANGES | %s |" % (d["changes"] or "not set"))
    w("| CHAOS_SECONDS | %s |" % (d["seconds"] or "not set"))
    w("| CHAOS_KILLS | %d (plus one kill in twenty with the replay window expired while down) |" % d["kills_wanted"])
    for k, v in d["rates"].items():
        w("| CHAOS_%s | %d per mille, during fault windows |" % (k.upper(), v))
    w("| CHAOS_LATENCY_MS / CHAOS_LATENCY_RATE | %d ms on %d per mille of requests, during latency windows |" % (
        d["latency_ms"], d["latency_rate"]))
    w("| CHAOS_STORE_FAULTS | %d moments, 1 to 3 store statements failed each |" % d["store_faults"])
    w("")
    w("## Changes made, by kind")
    w("")
    w("| kind | count |")
    w("|---|---|")
    for k in sorted(d["ops"]):
        w("| %s | %d |" % (_cell(k), d["ops"][k]))
    w("| **total** | **%d** |" % d["total_changes"])
    w("")
    w("At the end: %d counterparties and %d contracts in the repository; in Salesforce (live records) %s." % (
        d["records"]["counterparties"], d["records"]["contracts"],
        ", ".join("org %s %d Accounts and %d Contracts" % (o, v["Account"], v["Contract"])
                  for o, v in sorted(d["records"]["sf"].items()))))
    w("")
    w("## Chaos injected")
    w("")
    w("clmsync was killed with SIGKILL %d times and started %d times in all." % (d["kills"], d["starts"]))
    w("Store statements failed in the running server: %d armed through the test hook, %d log lines "
      "naming an injected fault (one fault may log more than one line, or none when its caller retries "
      "quietly)." % (d["chaos"].get("store statement failed (armed)", 0), d["store_logged"]))
    w("")
    w("From sfemu's `/__emu/counters` (engine and test together):")
    w("")
    w("| counter | what | org a | org b | total |")
    w("|---|---|---|---|---|")
    for k, what in KINDS:
        a, b = d["counters"]["a"].get(k, 0), d["counters"]["b"].get(k, 0)
        w("| `%s` | %s | %d | %d | %d |" % (k, what, a, b, a + b))
    w("")
    w("Chaos events the soak fired:")
    w("")
    w("| event | count |")
    w("|---|---|")
    for k in sorted(d["chaos"]):
        w("| %s | %d |" % (_cell(k), d["chaos"][k]))
    w("")
    if d["met"]:
        w("Faults the soak's own calls met and repeated through: %s." % ", ".join(
            "%s %d" % (k, v) for k, v in sorted(d["met"].items())))
        w("")
    w("## Dead-letter queue")
    w("")
    if not d["dlq"]:
        w("Empty.")
    else:
        groups = {}          # (code, message without its record ids) -> [entries, set of records]
        for e in d["dlq"]:
            err = e.get("error") or {}
            msg = err.get("message") or ""
            if err.get("code") in ("DUPLICATE_VALUE", "LOOKUP_NOT_LINKED"):
                msg = msg.split(" on record with id")[0].split(" cp_")[0]
            g = groups.setdefault((err.get("code") or "", msg), [0, set()])
            g[0] += 1
            g[1].add(e.get("clm"))
        w("%d entries, by reason:" % len(d["dlq"]))
        w("")
        w("| reason | entries | records |")
        w("|---|---|---|")
        for (code, msg), (n, ids) in sorted(groups.items()):
            w("| %s: %s | %d | %d |" % (_cell(code), _cell(msg), n, len(ids)))
        w("")
        w("The first entries:")
        w("")
        w("| id | mapping | record | direction | reason |")
        w("|---|---|---|---|---|")
        for e in d["dlq"][:25]:
            err = e.get("error") or {}
            w("| %s | %s | %s | %s | %s: %s |" % (e.get("id"), e.get("mapping"), e.get("clm"), e.get("direction"),
                                                 _cell(err.get("code")), _cell(err.get("message"))))
    w("")
    w("## Conflicts")
    w("")
    w("%d open after the workload (fields mapped `conflict: manual` edited on both sides); %d resolved with "
      "`clmsync conflicts resolve`." % (len(d["conflicts"]), d["resolved"]))
    w("")
    rc = d["reconcile"]
    w("Reconcile after the conflicts were settled: `clmsync reconcile` compared %d records and counted %d drift "
      "(the soak's own comparison just before found %d records different, each for a reason it knows); the "
      "`clmsync reconcile --repair` after it named %d records: %d in the dead-letter queue or different for a "
      "known reason, %d left by a known engine bug (both sides equal, counted again by every reconcile)." % (
          rc["checked"], rc["drift"], rc["expected"], rc["repair_rows"], rc["repair_explained"], rc["repair_known"]))
    w("")
    w("## Checks")
    w("")
    for ok, what, detail in d["results"]:
        w("- %s %s" % ("[x]" if ok else "[ ] **FAILED**", what))
        if not ok and detail:
            w("  - what failed: %s" % _cell(detail, 4000))
    w("")
    if d["known"]:
        w("## Open engine bugs met")
        w("")
        w("Each has a reproduction under `tests/chaos/known/` that fails while the bug is there; the soak "
          "reports them without failing%s. Bugs the soak found that are fixed since fail it when they come back "
          "(and their reproductions run in `make check` as chaos.found.*)." % (
              "" if not d["strict"] else " (this run had CHAOS_STRICT=1: they fail it)"))
        w("")
        for name, (n, what) in sorted(d["known"].items()):
            w("- %s: %d times. %s" % (name, n, what))
        w("")
    explained = [("a change published only as a gap, or its event never delivered, overwritten by a write of ours", t)
                 for t in d.get("gap_overwritten", [])] + \
                [("a person's last write that changed nothing in Salesforce", t) for t in d.get("no_change", [])]
    if explained:
        w("## Values explained without an engine bug")
        w("")
        for why, t in explained:
            w("- %s: %s" % (why, _cell(t, 600)))
        w("")
    if d["findings"]:
        w("## Findings")
        w("")
        for f in d["findings"]:
            w("- %s" % _cell(f, 2000))
        w("")
    with open(path, "w") as f:
        f.write("\n".join(L))
