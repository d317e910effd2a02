#!/usr/bin/env python3
"""report.py --dir SCRATCH --out FILE --systems "A B" --command CMD: bench/results/peers.md from the driver's figures.

Reads SCRATCH/<system>.json (driver.py), SCRATCH/<system>.version and SCRATCH/<system>.failed (a
system that could not be run: what failed), and appends bench/peers/notes.md (the discussion,
written by hand from a run's figures) after the tables."""
import argparse
import json
import os
import platform
import subprocess
import time

NAMES = {"clmsync": "clmsync", "jsforce": "jsforce DIY", "n8n": "n8n"}


def ms(v):
    if v is None:
        return "—"
    if v >= 10000:
        return "%.1f s" % (v / 1000.0)
    return "%.0f ms" % v if v >= 10 else "%.1f ms" % v


def sec(v):
    if v is None:
        return "—"
    return "%.1f s" % v if v >= 1 else "%.0f ms" % (v * 1000)


def num(v, fmt="%.0f"):
    return "—" if v is None else fmt % v


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--systems", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--summary", help="also write README.md's summary rows here")
    o = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    systems = o.systems.split()
    R, failed = {}, {}
    for s in systems:
        p = os.path.join(o.dir, s + ".json")
        if os.path.exists(p):
            with open(p) as f:
                R[s] = json.load(f)
        else:
            failed[s] = read(os.path.join(o.dir, s + ".failed")) or "(no figures: the run of this system failed)"
    ran = [s for s in systems if s in R]
    if not ran:
        raise SystemExit("report: no system produced figures")
    sz = R[ran[0]]["sizes"]
    rev = read(os.path.join(o.dir, "tree.rev"))
    if not rev:
        try:
            rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()
        except OSError:
            rev = "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    vers = {s: read(os.path.join(o.dir, s + ".version")) or "?" for s in systems}
    node = read(os.path.join(o.dir, "node.version")) or "?"
    changes = sz["contracts"] + 2 * sz["lat_n"] + 2 * sz["burst"] + 2 * sz["pairs"] + 4 * sz["interleaved"]

    L = []
    w = L.append
    w("# clmsync and its peers: the same workload, side by side")
    w("")
    w("Measured by `make peers` (`%s`) on %s, %d cores (%s), %s, on tree %s." %
      (o.command, time.strftime("%Y-%m-%d", time.gmtime()), os.cpu_count(), cpu, platform.platform(terse=True), rev))
    w("The machine was shared: other work was running on its 2 cores during the run, so absolute figures")
    w("are noisier than `bench/results/engine.md`'s; every system met the same conditions one after the")
    w("other, which is what a side-by-side comparison needs.")
    w("")
    w("Versions: node %s; jsforce %s; n8n %s; clmsync %s (this tree, Release build)." %
      (node, vers.get("jsforce", "—"), vers.get("n8n", "—"), rev))
    w("")
    w("## How it runs")
    w("")
    w("For each system in turn, `bench/peers/run.sh` starts a fresh sfemu (`build/sfemu`, no fault")
    w("injection, API limit out of reach) and a fresh repository (`clmsync serve` with the scenario tests'")
    w("configuration, `tests/scenario/sync_config.py`, with `description_conflict=last_writer_wins`), then the")
    w("system under test, then the same driver (`bench/peers/driver.py`):")
    w("")
    w("- **clmsync**: `clmsync serve --config` itself, the repository and the sync engine in one process.")
    w("- **jsforce DIY** (`bench/peers/jsforce-sync.js`): the repository runs `serve --no-sync`; a Node")
    w("  process logs in with OAuth (username-password), subscribes to `/data/ContractChangeEvent` for")
    w("  Salesforce → repository (read the contract, PATCH when the value differs) and long-polls the")
    w("  change feed for repository → Salesforce (each page upserted by `CLM_Id__c`, jsforce's array upsert:")
    w("  one sObject Collections call per 200). Echoes are skipped by origin (`Sforce-Call-Options: client=`,")
    w("  `X-Clm-User`) and by comparing values.")
    w("- **n8n** (`bench/peers/n8n.sh`, workflows made by `bench/peers/n8n/workflows.py`): the repository runs")
    w("  `serve --no-sync`; n8n runs headless on loopback with SQLite, its credentials and two workflows")
    w("  imported and published from its CLI, built from its own nodes. Salesforce → repository: the")
    w("  Salesforce Trigger (*On Custom Object Updated*, object Contract, *Every Minute*, the shortest poll")
    w("  it allows) → Salesforce node *Get* (the trigger returns ids only) → HTTP Request GET of the")
    w("  repository contract → Code (keep those whose Description differs) → HTTP Request PATCH.")
    w("  Repository → Salesforce: Schedule Trigger every second (its shortest) → Code and HTTP Request")
    w("  reading the change feed after a position kept in the workflow's static data → HTTP Request GET")
    w("  of each record changed → If → Salesforce node *Create or Update* by `CLM_Id__c` (Account, then")
    w("  Contract with its AccountId). The OAuth2 credential (the only Salesforce credential that takes a")
    w("  loopback instance) holds a session obtained from sfemu's token endpoint, as its browser flow")
    w("  would have left it. Settings besides the loopback ones: `N8N_CONCURRENCY_PRODUCTION_LIMIT=1`")
    w("  (without it, a burst's execution outlasts the 1 s schedule and the next ones start from the same")
    w("  feed position: a trial run made 1,137 REST calls where 126 upserts were needed) and")
    w("  `EXECUTIONS_DATA_SAVE_ON_SUCCESS=none` (no execution data kept for successful runs, as n8n's guide to")
    w("  execution data suggests for busy instances).")
    w("")
    w("The workload, the same for every system (driver defaults, changed by `PEERS_*` variables):")
    w("")
    w("| phase | what |")
    w("|---|---|")
    w("| seed | one counterparty and %d contracts created in the repository (title, description, payment terms, value); each must appear as a Contract under the counterparty's Account; every phase below edits contracts of its own |" % sz["contracts"])
    w("| latency | %d changes of `description` each way, one every %d ms; arrival = the value seen on the other side |" % (sz["lat_n"], sz["lat_interval_ms"]))
    w("| throughput | a burst of %d changes each way, each on its own contract (repository: %d writers PATCHing; Salesforce: sObject Collections updates of 200); time until the last is visible |" % (sz["burst"], sz["threads"]))
    w("| concurrent pairs | %d contracts: the same field written on both sides at once (two threads released together), one pair every 100 ms |" % sz["pairs"])
    w("| interleaved | %d contracts written 4 times, alternating repository, Salesforce, repository, Salesforce, %d ms between rounds |" % (sz["interleaved"], sz["round_gap_ms"]))
    w("| converge | until both sides hold the same value on every contract of the two phases above (deadline %.0f s) |" % sz["deadline"])
    w("| quiet | %.0f s with no workload: every write then is a loop |" % sz["quiet"])
    w("")
    w("The phases run in this order: seed, repository → Salesforce (latency, then burst), Salesforce →")
    w("repository (latency, then burst), the concurrent edits, convergence, the quiet window.")
    aged = [s for s in ran if R[s].get("age_s", 0) > 60]
    if aged:
        w("For %s, the Salesforce edits waited until the contracts were %s old (an idle wait, the edits" %
          (", ".join(NAMES.get(s, s) for s in aged), ", ".join("%.0f s" % R[s]["age_s"] for s in aged)))
        w("themselves unchanged): n8n's Salesforce Trigger reports no update of a record created less than")
        w("15 minutes before its previous poll (see the discussion), which would otherwise hide every edit.")
    w("")
    w("Arrivals are seen by events, not by periodic reads: Salesforce through the driver's own CometD")
    w("subscription (streaming costs no API call), the repository through a long poll of its change feed.")
    w("A latency runs from just before the write is sent to the moment the driver holds the value on the other")
    w("side. Salesforce API calls are sfemu's `api_used` counter (what an org's daily allocation counts)")
    w("less the driver's own calls. Memory is the peak, sampled every 200 ms, of the resident size summed")
    w("over the sync's process tree.")
    w("")
    if failed:
        w("Not measured:")
        w("")
        for s, why in failed.items():
            w("- **%s**: could not be run in this run; what failed:" % NAMES.get(s, s))
            w("")
            w("  ```")
            for line in why.splitlines()[-25:]:
                w("  " + line)
            w("  ```")
        w("")

    def row(label, f):
        w("| %s | %s |" % (label, " | ".join(f(R[s]) for s in ran)))

    head = "| | %s |" % " | ".join(NAMES.get(s, s) for s in ran)
    sep = "|---|%s" % ("---:|" * len(ran))

    w("## End-to-end latency, one change at a time")
    w("")
    w(head)
    w(sep)
    for d, name in (("to_sf", "repository → Salesforce"), ("to_repo", "Salesforce → repository")):
        row(name + ", p50", lambda r: ms(r["latency"][d]["p50_ms"]))
        row(name + ", p99", lambda r: ms(r["latency"][d]["p99_ms"]))
        row(name + ", max", lambda r: ms(r["latency"][d]["max_ms"]))
        row(name + ", arrived", lambda r: "%d / %d" % (r["latency"][d]["arrived"], r["latency"][d]["n"]))
    w("")
    w("## Sustained throughput: a burst of %d changes each way" % sz["burst"])
    w("")
    w(head)
    w(sep)
    for d, name in (("to_sf", "repository → Salesforce"), ("to_repo", "Salesforce → repository")):
        row(name + ": last visible after", lambda r: sec(r["burst"][d]["last_visible_s"])
            if r["burst"][d]["arrived"] == r["burst"][d]["n"] else "never (deadline %.0f s)" % sz["deadline"])
        row(name + ": changes/s end to end", lambda r: num(r["burst"][d]["per_s"]) if r["burst"][d]["arrived"] else "0")
        row(name + ": arrived", lambda r: "%d / %d" % (r["burst"][d]["arrived"], r["burst"][d]["n"]))
    row("seed: %d creates, last in Salesforce after" % sz["contracts"], lambda r: sec(r["seed"]["last_visible_s"])
        if r["seed"]["arrived"] == sz["contracts"] else "%d arrived" % r["seed"]["arrived"])
    w("")
    w("## Salesforce API calls per 1,000 changes")
    w("")
    w(head)
    w(sep)
    row("seed (creates)", lambda r: num(r["seed"]["api_calls"] * 1000.0 / sz["contracts"]))
    row("latency, repository → Salesforce", lambda r: num(r["latency"]["to_sf"]["api_calls"] * 1000.0 / sz["lat_n"]))
    row("latency, Salesforce → repository", lambda r: num(r["latency"]["to_repo"]["api_calls"] * 1000.0 / sz["lat_n"]))
    row("burst, repository → Salesforce", lambda r: num(r["burst"]["to_sf"]["api_per_1000"]))
    row("burst, Salesforce → repository", lambda r: num(r["burst"]["to_repo"]["api_per_1000"]))
    row("whole run (%d changes, %s)" % (changes, "polling included"), lambda r: num(r["total"]["api_calls"] * 1000.0 / changes))
    row("whole run, calls", lambda r: "%d in %.0f s" % (r["total"]["api_calls"], r["total"]["seconds"]))
    w("")
    w("Each phase's window runs from its first write until its last change is visible (bursts: 5 s more")
    w("for the tail), so a poller's idle calls fall in the whole-run figure, not in the phases'.")
    w("")
    w("## Peak memory of the sync")
    w("")
    w(head)
    w(sep)
    row("peak resident, MiB (sum over the process tree)", lambda r: "%.1f" % (r["memory"]["peak_rss_kib"] / 1024.0))
    row("processes in the tree at the peak", lambda r: str(r["memory"]["procs_at_peak"]))
    row("CPU time over the run", lambda r: "%.1f s" % r["total"]["cpu_s"])
    w("")
    w("clmsync's figure is the repository and the engine together (one process); the peers' is the sync")
    w("alone, the repository they talk to (`clmsync serve --no-sync`) not counted.")
    w("")
    w("## Correctness under concurrent edits")
    w("")
    w(head)
    w(sep)
    row("pairs: lost updates (of %d)" % sz["pairs"], lambda r: "**%d**" % r["correctness"]["pairs"]["lost"])
    row("pairs: the two sides disagree", lambda r: str(r["correctness"]["pairs"]["disagree"]))
    row("pairs: agree on a value neither side wrote", lambda r: str(r["correctness"]["pairs"]["foreign"]))
    def split(r, close_ms=2.0):
        """(later won, earlier won, too close to call) among the pairs that agree on a written value"""
        p = r["correctness"]["pairs"]
        earlier = list(p["earlier_gaps_ms"])
        later = list(p["gaps_ms"])
        for g in earlier:
            later.remove(g)
        return (sum(1 for g in later if g > close_ms), sum(1 for g in earlier if g > close_ms),
                sum(1 for g in later + earlier if g <= close_ms), sorted(g for g in earlier if g > close_ms))

    row("pairs: agree, the later commit won (by more than 2 ms)", lambda r: str(split(r)[0]))
    row("pairs: agree, the earlier commit won (by more than 2 ms)", lambda r: str(split(r)[1]) +
        (" (by %s ms)" % ", ".join("%g" % g for g in split(r)[3]) if split(r)[3] else ""))
    row("pairs: agree, commits within 2 ms (a tie at the clocks' resolution)", lambda r: str(split(r)[2]))
    row("pairs: agree, the repository's / Salesforce's value", lambda r: "%d / %d" % (
        r["correctness"]["pairs"]["won_repo"], r["correctness"]["pairs"]["won_sf"]))
    row("interleaved: lost updates (of %d)" % sz["interleaved"], lambda r: "**%d**" % r["correctness"]["interleaved"]["lost"])
    row("interleaved: sides disagree", lambda r: str(r["correctness"]["interleaved"]["disagree"]))
    row("interleaved: stale in Salesforce / repository / both", lambda r: "%d / %d / %d" % (
        r["correctness"]["interleaved"]["stale_sf"], r["correctness"]["interleaved"]["stale_repo"],
        r["correctness"]["interleaved"]["stale_both"]))
    row("converged (contracts agreeing at the end of the wait)", lambda r: "%d / %d after %s" % (
        r["converge"]["agree"], r["converge"]["watched"], sec(r["converge"]["after_s"])))
    row("all %d contracts: sides disagree at the end" % sz["contracts"], lambda r: str(r["correctness"]["drift_all"]))
    row("loops: Salesforce change events in the quiet %.0f s" % sz["quiet"], lambda r: "**%d**" % r["quiet"]["sf_change_events"])
    row("loops: repository writes in the quiet window", lambda r: "**%d**" % r["quiet"]["repo_feed_rows"])
    row("Salesforce API calls in the quiet window", lambda r: str(r["quiet"]["sf_api_calls"]))
    row("duplicates: extra Contracts by CLM_Id__c", lambda r: "**%d**" % r["correctness"]["duplicates"]["dup_by_external_id"])
    row("duplicates: extra Contracts by Name", lambda r: "**%d**" % r["correctness"]["duplicates"]["dup_by_name"])
    row("Contracts without CLM_Id__c", lambda r: str(r["correctness"]["duplicates"]["without_external_id"]))
    row("Contracts / repository contracts / expected", lambda r: "%d / %d / %d" % (
        r["correctness"]["duplicates"]["sf_contracts"], r["correctness"]["duplicates"]["repo_contracts"],
        r["correctness"]["duplicates"]["expected"]))
    row("Accounts (1 expected)", lambda r: str(r["correctness"]["duplicates"]["accounts"]))
    w("")
    w("What the counts mean:")
    w("")
    w("- **Lost update, pairs**: the repository and Salesforce were written at the same moment with two")
    w("  different values. The policy every system is held to is the one clmsync declares for the field,")
    w("  last writer wins by commit time, and the least any policy owes is that both sides end equal on one")
    w("  of the two values. A pair is lost when the sides disagree, or agree on a value neither wrote. Which")
    w("  one won is shown apart: the two commits are often within a few milliseconds of each other, and")
    w("  the gaps listed say how close a call it was (the repository's `updated_at` against the Salesforce")
    w("  change event's `commitTimestamp`, same clock).")
    w("- **Lost update, interleaved**: four writes %d ms apart, the last in Salesforce; the contract is lost" % sz["round_gap_ms"])
    w("  unless both sides end with that last value.")
    w("- **Loops**: change events published by Salesforce (each is a committed write) and rows written to")
    w("  the repository's change feed during the quiet window, after convergence (or its deadline) with no")
    w("  workload running. Anything but 0 is a write nobody asked for.")
    w("- **Duplicates**: more than one Salesforce Contract for one repository contract, by the external id")
    w("  field `CLM_Id__c` or by Name (titles are unique in the workload).")
    w("")
    if o.summary:
        # the few figures README.md's "Compared with the alternatives" quotes
        S = []

        def srow(label, f):
            S.append("| %s | %s |" % (label, " | ".join(f(R[s]) if s in R else "not run" for s in systems)))

        for d, name in (("to_sf", "repository → Salesforce"), ("to_repo", "Salesforce → repository")):
            srow("latency p50 / p99, " + name, lambda r: "%s / %s" % (ms(r["latency"][d]["p50_ms"]), ms(r["latency"][d]["p99_ms"]))
                 if r["latency"][d]["arrived"] else "never arrived")
        for d, name in (("to_sf", "repository → Salesforce"), ("to_repo", "Salesforce → repository")):
            srow("burst of %d, %s: changes/s" % (sz["burst"], name), lambda r: num(r["burst"][d]["per_s"])
                 if r["burst"][d]["arrived"] == r["burst"][d]["n"] else "%d arrived" % r["burst"][d]["arrived"])
        srow("Salesforce API calls per 1,000 changes (burst to Salesforce / whole run)", lambda r: "%s / %s" % (
            num(r["burst"]["to_sf"]["api_per_1000"]), num(r["total"]["api_calls"] * 1000.0 / changes)))
        srow("peak memory of the sync (clmsync: with its repository)", lambda r: "%.0f MiB" % (r["memory"]["peak_rss_kib"] / 1024.0))
        srow("lost updates: %d simultaneous pairs / %d interleaved" % (sz["pairs"], sz["interleaved"]),
             lambda r: "%d / %d" % (r["correctness"]["pairs"]["lost"], r["correctness"]["interleaved"]["lost"]))
        srow("loops (writes in a quiet %.0f s) / duplicate Contracts" % sz["quiet"], lambda r: "%d / %d" % (
            r["quiet"]["sf_change_events"] + r["quiet"]["repo_feed_rows"],
            r["correctness"]["duplicates"]["dup_by_external_id"] + r["correctness"]["duplicates"]["dup_by_name"]))
        with open(o.summary, "w") as f:
            f.write("\n".join(S) + "\n")
    notes = read(os.path.join(here, "notes.md"))
    if notes:
        w(notes)
        w("")
    with open(o.out, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
