"""alert_rules.py - config/alerts/clmsync-rules.yml against a running clmsync (run by test_alert_rules.sh).

Checks the rules' structure, that every metric a rule names is one the running server exports and
carries the labels the rule's annotations use, that every runbook_url names a section of
docs/operations.md, and that the conditions the alert webhook evaluates are rules of the same name.
"""
import os
import re
import sys

import yaml

from sync_lib import CLM, SF, Http, check, finish, wait_for

ROOT = os.environ["SRC"]
ADMIN = os.environ["CLM_ADMIN_TOKEN"]
PROMETHEUS_MADE = {"up"}            # series Prometheus makes itself for every target
PROMETHEUS_LABELS = {"job", "instance"}
PROMQL_WORDS = {"and", "or", "unless", "on", "ignoring", "by", "without", "group_left", "group_right",
                "sum", "min", "max", "avg", "count", "increase", "rate", "delta", "deriv", "absent", "offset", "bool"}

rules_doc = yaml.safe_load(open(os.path.join(ROOT, "config/alerts/clmsync-rules.yml")))
rules = [r for g in rules_doc["groups"] for r in g["rules"]]
ops = open(os.path.join(ROOT, "docs/operations.md")).read()


def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


anchors = {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", ops, re.M)}

# --- structure ----------------------------------------------------------------------------------
names = [r.get("alert") for r in rules]
check(len(rules) >= 9 and len(set(names)) == len(names), "alert names are unique", names)
for r in rules:
    a = r.get("annotations", {})
    check(r.get("labels", {}).get("severity") in ("critical", "warning", "info") and
          all(a.get(k) for k in ("summary", "description", "runbook_url")) and isinstance(r.get("expr"), str),
          "%s: severity, summary, description, runbook_url and expr" % r.get("alert"), r)
    url = a.get("runbook_url", "")
    check(url.startswith("docs/operations.md#") and url.split("#", 1)[1] in anchors,
          "%s: its runbook is a section of docs/operations.md" % r.get("alert"), url)
    check(url.split("#", 1)[-1] == r.get("alert", "").lower(), "%s: the runbook anchor is the alert's name" % r.get("alert"), url)

# --- the conditions the webhook evaluates are rules of the same name -----------------------------
src = open(os.path.join(ROOT, "src/admin/alerts.c")).read()
webhook = set(re.findall(r'"(Clmsync[A-Za-z]+)"', src))
check(len(webhook) == 6 and webhook <= set(names), "the webhook's conditions are rules of the same name",
      sorted(webhook - set(names)) or sorted(webhook))

# --- every metric is exported, with the labels the annotations use --------------------------------
sf = SF(os.environ["SF_URL"])
clm = CLM(os.environ["CLM_URL"], ADMIN)
adm = Http(os.environ["ADMIN_URL"])
cp = clm.create("counterparties", {"legal_name": "Rules Corp"})
sf.create("Account", {"Name": "Rules From Salesforce"})     # an event: a replay position is stored
samples = {}


def scrape():
    st, text = adm.call("GET", "/metrics", headers={"Authorization": "Bearer " + ADMIN}, raw=True)
    if st != 200:
        return None
    got = {}
    for line in text.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
        if m:
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            got.setdefault(m.group(1), set()).update(labels)
    # every family is there once the stream has stored a position and Salesforce has reported usage
    need = ("clmsync_replay_retention_left_seconds", "clmsync_api_daily_remaining", "clmsync_reconcile_last_drift")
    return got if all(n in got for n in need) else None


samples = wait_for(scrape, 40, "every family exported") or {}
check(samples, "/metrics exports the replay positions and the API usage", sorted(samples))
for r in rules:
    idents = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", re.sub(r'"[^"]*"', '""', r["expr"])))
    idents -= PROMQL_WORDS
    idents = {i for i in idents if not re.fullmatch(r"\d+[smhdwy]?|[smhdwy]", i)}
    metrics = {i for i in idents if i.startswith("clmsync_")}
    other = idents - metrics - PROMETHEUS_MADE - {"job"}
    check(metrics or idents & PROMETHEUS_MADE, "%s: names a metric" % r["alert"], r["expr"])
    check(not other, "%s: names nothing but metrics" % r["alert"], sorted(other))
    missing = sorted(m for m in metrics if m not in samples)
    check(not missing, "%s: every metric it names is exported (%s)" % (r["alert"], ", ".join(sorted(metrics)) or "up"),
          missing)
    used = set(re.findall(r"\$labels\.([a-zA-Z_]+)", " ".join(r["annotations"].values())))
    have = set().union(*(samples.get(m, set()) for m in metrics)) | PROMETHEUS_LABELS
    check(used <= have, "%s: the labels its annotations use are on its metrics" % r["alert"], sorted(used - have))
finish()
