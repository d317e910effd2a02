"""alert_webhook.py - the alert webhook end to end (run by test_alert_webhook.sh).

Two roles:
  alert_webhook.py receive KEY_FILE EVENTS_FILE PORT_FILE FAIL_FIRST
      a receiver on 127.0.0.1 (a free port, written to PORT_FILE) that verifies each delivery's
      signature as docs/operations.md tells a receiver to, answers 401 to a bad one, 503 to the
      first FAIL_FIRST deliveries (so that a retry is seen), and appends every request to
      EVENTS_FILE as one JSON line {"ok", "status", "delivery", "event"};
  alert_webhook.py run
      the scenario: a DLQ entry fires ClmsyncDLQ and its discard resolves it; killing sfemu
      fires ClmsyncStreamDown and restarting it resolves it; exactly one firing and one resolved
      event per condition, each signed; a tampered body and a stale time fail verification;
      every line the server wrote on stderr is one JSON object, and none holds a secret.
"""
import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

TOLERANCE_S = 300   # how old a signed time a receiver accepts (docs/operations.md)


def verify(key, header, body, now=None):
    """The receiver's check: True when header ("t=<ts>,v1=<hex>") signs body with key and t is
    within TOLERANCE_S of now."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        want = parts["v1"]
    except (ValueError, KeyError, AttributeError):
        return False
    if abs((now if now is not None else time.time()) - ts) > TOLERANCE_S:
        return False
    mac = hmac.new(key, str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, want)


def receive(key_file, events_file, port_file, fail_first):
    key = open(key_file, "rb").read().strip()
    state = {"left_to_fail": int(fail_first)}
    out = open(events_file, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            ok = verify(key, self.headers.get("X-Clmsync-Signature", ""), body) and \
                self.headers.get("Content-Type") == "application/json"
            if not ok:
                status = 401
            elif state["left_to_fail"] > 0:
                state["left_to_fail"] -= 1
                status = 503
            else:
                status = 200
            try:
                ev = json.loads(body)
            except ValueError:
                ev = None
            out.write(json.dumps({"ok": ok, "status": status, "delivery": self.headers.get("X-Clmsync-Delivery"),
                                  "event_header": self.headers.get("X-Clmsync-Event"), "event": ev,
                                  "signature": self.headers.get("X-Clmsync-Signature"),
                                  "body": body.decode("utf-8", "replace")}) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv.serve_forever()


def run():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sync_lib import CLM, SF, Http, check, finish, wait_for

    admin_token = os.environ["CLM_ADMIN_TOKEN"]
    key = open(os.environ["HOOK_KEY_FILE"], "rb").read().strip()
    events_file = os.environ["HOOK_EVENTS"]
    log_file = os.environ["CLM_LOG"]
    sf = SF(os.environ["SF_URL"])
    clm = CLM(os.environ["CLM_URL"], admin_token)
    adm = Http(os.environ["ADMIN_URL"])
    hook = Http(os.environ["HOOK_URL"])

    def a(method, path, body=None):
        return adm.call(method, path, body, {"Authorization": "Bearer " + admin_token})

    def requests():
        with open(events_file) as f:
            return [json.loads(line) for line in f if line.strip()]

    def delivered(alert=None, status=None):
        return [r["event"] for r in requests() if r["status"] == 200 and
                (alert is None or r["event"]["alert"] == alert) and (status is None or r["event"]["status"] == status)]

    def evaluations():
        n = 0
        with open(log_file) as f:
            for line in f:
                n += '"event":"alerts.evaluated"' in line
        return n

    # --- calm: the stream up, nothing firing -------------------------------------------------
    def stream_up():
        st, s = a("GET", "/admin/v1/status")
        return st == 200 and s["orgs"] and s["orgs"][0]["stream"]["connected"]

    check(wait_for(stream_up, 30, "stream connected"), "the change stream is connected")
    start_round = evaluations()
    rounds = wait_for(lambda: evaluations() >= start_round + 2, 30, "two evaluations")
    check(rounds and delivered() == [], "a calm start is evaluated and sends nothing", requests())

    # --- a dead-letter entry fires ClmsyncDLQ; its discard resolves it ------------------------
    cp = clm.create("counterparties", {"legal_name": "Alert Corp"})
    ct = clm.create("contracts", {"title": "Alert MSA", "type": "msa", "counterparty_id": cp["id"]})

    def linked():
        r = sf.by_ext("Contract", "CLM_Id__c", ct["id"])
        return r[0]["Id"] if r else None

    sfc = wait_for(linked, 30, "contract in Salesforce")
    check(sfc is not None, "the contract reached Salesforce")
    sf.update("Contract", sfc, {"CLM_Lifecycle_Status__c": "Expired"})   # draft -> expired: refused

    fired = wait_for(lambda: delivered("ClmsyncDLQ", "firing"), 30, "DLQ firing")
    check(fired and len(fired) == 1, "ClmsyncDLQ fires once the refused change is dead-lettered", requests())
    if fired:
        e = fired[0]
        check(e["org"] == "sf" and e["mapping"] == "contracts" and e["value"] == 1 and e["threshold"] == 0,
              "the event names org, mapping, value and threshold", e)
        check(e["runbook"] == "docs/operations.md#clmsyncdlq" and "dead-letter" in e["summary"] and
              e["started_at"] and e["ts"], "the event carries its summary, runbook and times", e)
    # the receiver answered 503 to the first delivery: the same delivery came again and went through
    reqs = requests()
    first = reqs[0] if reqs else {}
    check(first.get("status") == 503 and first.get("ok") and
          [r["status"] for r in reqs if r["delivery"] == first.get("delivery")] == [503, 200],
          "a delivery the receiver failed is retried, with the same delivery id", reqs[:3])

    st, b = a("GET", "/admin/v1/dlq")
    entries = [x for x in (b or {}).get("entries", []) if x["clm"] == ct["id"]] if st == 200 else []
    check(len(entries) == 1, "the DLQ holds the entry", (st, b))
    if entries:
        st, b = a("POST", "/admin/v1/dlq/%s/discard" % entries[0]["id"], {"reason": "alert webhook test"})
        check(st == 200, "the entry is discarded", (st, b))
    res = wait_for(lambda: delivered("ClmsyncDLQ", "resolved"), 30, "DLQ resolved")
    check(res and len(res) == 1 and res[0]["value"] == 0 and fired and res[0]["started_at"] == fired[0]["started_at"],
          "ClmsyncDLQ resolves once the entry is gone, with its start time", res)

    # --- a dead stream fires ClmsyncStreamDown; the stream's return resolves it ----------------
    sfport = urllib.parse.urlparse(os.environ["SF_URL"]).port
    killed_at = time.time()
    os.kill(int(os.environ["SF_PID"]), signal.SIGKILL)
    down = wait_for(lambda: delivered("ClmsyncStreamDown", "firing"), 40, "stream down firing")
    check(down and len(down) == 1 and down[0]["org"] == "sf" and down[0]["value"] >= down[0]["threshold"] == 10,
          "ClmsyncStreamDown fires once the stream has been down stream_down_s", down)
    emu = subprocess.Popen([os.environ["SFEMU"], "--listen", "127.0.0.1:%d" % sfport], stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(os.environ["WORK"], "sf2.log"), "w"))
    try:
        up = wait_for(lambda: delivered("ClmsyncStreamDown", "resolved"), 60, "stream down resolved")
        check(up and len(up) == 1 and up[0]["value"] == 0, "ClmsyncStreamDown resolves once the stream is back", up)
        # a few more rounds: nothing is sent again
        n = evaluations()
        check(wait_for(lambda: evaluations() >= n + 3, 30, "three more evaluations"), "the evaluations go on")
    finally:
        emu.terminate()
        emu.wait()

    got = [(e["alert"], e["status"]) for e in delivered()]
    check(got == [("ClmsyncDLQ", "firing"), ("ClmsyncDLQ", "resolved"), ("ClmsyncStreamDown", "firing"),
                  ("ClmsyncStreamDown", "resolved")], "exactly one firing and one resolved event per condition", got)
    check(all(r["ok"] for r in requests()), "every delivery's signature verifies",
          [r for r in requests() if not r["ok"]])
    ids = [r["delivery"] for r in requests() if r["status"] == 200]
    check(len(ids) == len(set(ids)) == 4, "each event was delivered once", ids)
    check(all(r["event_header"] == r["event"]["status"] for r in requests()), "X-Clmsync-Event names the status")
    stamps = [int(dict(p.split("=", 1) for p in r["signature"].split(","))["t"]) for r in requests()]
    check(all(killed_at - 600 < t < time.time() + 5 for t in stamps), "signed times are the delivery times", stamps)

    # --- what a receiver must refuse ----------------------------------------------------------
    r = requests()[-1]
    body = r["body"].encode()
    tampered = body.replace(b'"resolved"', b'"firing"')
    check(tampered != body and verify(key, r["signature"], body) and not verify(key, r["signature"], tampered),
          "a tampered body fails verification")
    check(not verify(b"another-key-0123456789", r["signature"], body), "another key fails verification")
    old = int(time.time()) - 3600
    stale = "t=%d,v1=%s" % (old, hmac.new(key, str(old).encode() + b"." + body, hashlib.sha256).hexdigest())
    check(not verify(key, stale, body), "a signature an hour old fails verification (replay)")
    before = len(requests())
    st, _ = hook.call("POST", "/hook", tampered, {"Content-Type": "application/json",
                                                  "X-Clmsync-Signature": r["signature"]})
    check(st == 401 and len(requests()) == before + 1 and requests()[-1]["ok"] is False,
          "the receiver answers 401 to the tampered delivery", st)

    # --- the server's log: one JSON object per line, no secret in it ---------------------------
    lines = open(log_file, encoding="utf-8").read().splitlines()
    bad = []
    for ln in lines:
        try:
            j = json.loads(ln)
            if not (isinstance(j, dict) and {"ts", "level", "event", "msg"} <= set(j)):
                bad.append(ln)
        except ValueError:
            bad.append(ln)
    check(lines and not bad, "every line of the server's stderr is a JSON object (%d lines)" % len(lines), bad[:3])
    events = {json.loads(ln)["event"] for ln in lines if ln not in bad}
    check({"alerts.start", "alerts.firing", "alerts.resolved", "alerts.delivered", "alerts.delivery"} <= events,
          "the log tells of the alerts' start, firing, resolution, delivery and retry", sorted(events))
    text = "\n".join(lines)
    secrets = {"signing key": key.decode(), "admin token": admin_token,
               "Salesforce client secret": os.environ["CLMSYNC_TEST_SECRET"]}
    leaked = [name for name, v in secrets.items() if v in text]
    check(not leaked, "no secret appears in the log", leaked)
    finish()


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(*sys.argv[2:6])
    else:
        run()
