"""readyz_login.py - readiness and each org's login (run by test_readyz_login.sh)."""
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

TOKEN = os.environ["CLM_ADMIN_TOKEN"]
SF_URL = os.environ["SF_URL"]
SF_PORT = urllib.parse.urlparse(SF_URL).port
adm = Http(os.environ["ADMIN_URL"])
clm = CLM(os.environ["CLM_URL"], TOKEN)
emus = []   # the sfemu processes this script starts, stopped by pid at the end
started = [0]


def a(path, token=TOKEN, raw=False):
    return adm.call("GET", path, None, {"Authorization": "Bearer " + token} if token else {}, raw=raw)


def readyz():
    return a("/readyz", token=None)


def org_status():
    st, b = a("/admin/v1/status")
    return b["orgs"][0] if st == 200 else None


def check_of(body, name):
    c = [x for x in body["checks"] if x["check"] == name and x.get("org") == "sf"]
    return c[0] if c else None


def gauge(name, **labels):
    st, text = a("/metrics", raw=True)
    if st != 200:
        return None
    for fam in text_string_to_metric_families(text.decode()):
        for smp in fam.samples:
            if smp.name == name and all(smp.labels.get(k) == v for k, v in labels.items()):
                return smp.value
    return None


def cli_status():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLMSYNC_")}
    env["CLMSYNC_ADMIN_URL"] = os.environ["ADMIN_URL"]
    env["CLMSYNC_ADMIN_TOKEN"] = TOKEN
    return subprocess.run([os.environ["CLMSYNC"], "status"], capture_output=True, env=env, timeout=60)


def restart_sfemu(*args):
    """Stops the running sfemu (by pid) and starts another on the same port: an org whose
    settings changed under the running server."""
    if emus:
        p = emus.pop()
        p.terminate()
        p.wait()
    else:
        os.kill(int(os.environ["SF_PID"]), signal.SIGKILL)
    started[0] += 1
    logname = os.path.join(os.environ["WORK"], "sf%d.log" % (started[0] + 1))

    def start():
        # the killed process may still hold the port for a moment (it is not our child to wait
        # for): try again until it is free
        p = subprocess.Popen([os.environ["SFEMU"], "--listen", "127.0.0.1:%d" % SF_PORT] + list(args),
                             stdout=subprocess.PIPE, stderr=open(logname, "a"))
        if p.stdout.readline().decode().strip() == SF_URL:
            return p
        p.wait()
        return None

    p = wait_for(start, 20, "sfemu on its port")
    if p is not None:
        emus.append(p)
    check(p is not None, "sfemu serves on its port again", args)


try:
    # --- logged in: ready, and the status says so ---------------------------------------------
    got = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(readyz()), 30, "ready")
    check(got is not None and got["ready"] is True and got["reasons"] == [], "/readyz: 200 once logged in", got)
    c = check_of(got, "auth") if got else None
    check(c is not None and c["ok"] is True and c["detail"] == "authenticated", "/readyz: the org's login check", got)
    o = org_status()
    au = o.get("auth", {}) if o else {}
    check(au.get("authenticated") is True and au.get("login_ms", 0) > 0 and au.get("failures") == 0 and
          au.get("error") == "", "status: the org is authenticated, with when it logged in", au)
    check(gauge("clmsync_org_authenticated", org="sf") == 1, "metrics: clmsync_org_authenticated is 1")

    # --- an expired session is renewed by a new login: nothing to report ----------------------
    first_login = au.get("login_ms", 0)
    sf = SF(SF_URL)
    st, _ = sf.emu("POST", "expire-sessions")
    check(st == 200, "sfemu: every session expired")
    sf = SF(SF_URL)   # the test's own session went too
    cp = clm.create("counterparties", {"legal_name": "Readyz Corp"})
    relogged = wait_for(lambda: (lambda o: o if o and o["auth"]["login_ms"] > first_login else None)(org_status()),
                        30, "a new login")
    check(relogged is not None and relogged["auth"]["authenticated"] is True,
          "an expired session: a new login, still authenticated", relogged and relogged["auth"])
    check(wait_for(lambda: sf.by_ext("Account", "CLM_Id__c", cp["id"]), 30, "the account in Salesforce"),
          "and the change made meanwhile reaches Salesforce")
    st, b = readyz()
    check(st == 200, "/readyz: still ready", b)

    # --- the org's client secret is rotated: the next login is refused --------------------------
    restart_sfemu("--client-secret", "rotated-secret-0123456789")

    def unready():
        st, b = readyz()
        return b if st == 503 else None

    u = wait_for(unready, 60, "unready")
    check(u is not None and u["ready"] is False, "/readyz: 503 once Salesforce refuses the login", u)
    c = check_of(u, "auth") if u else None
    check(c is not None and c["ok"] is False and "not authenticated" in c["detail"] and
          "login refused" in c["detail"], "/readyz: the auth check fails with Salesforce's reason", u)
    check(u is not None and any(r.startswith("org sf: not authenticated") for r in u["reasons"]),
          "/readyz: the reasons name the org", u and u["reasons"])
    s = check_of(u, "stream") if u else None
    check(s is not None and s["ok"] is True, "/readyz: the stream is still within its budget: the login alone "
          "made it unready", u)
    o = org_status()
    au = o.get("auth", {}) if o else {}
    check(au.get("authenticated") is False and au.get("failures", 0) >= 1 and au.get("failed_ms", 0) > 0 and
          "login refused" in au.get("error", ""), "status: not authenticated, with the failures and why", au)
    check("rotated-secret" not in str(u) and "clmsync-test-secret" not in str(u) + str(au),
          "no secret in what readiness and status say")
    check(gauge("clmsync_org_authenticated", org="sf") == 0, "metrics: clmsync_org_authenticated is 0")
    r = cli_status()
    out = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 1 and "org sf: not logged in to Salesforce" in out,
          "clmsync status: exit 1, naming the org that cannot log in", (r.returncode, out[-600:]))
    h, _ = a("/healthz", token=None)
    check(h == 200, "/healthz: the process is alive all the same", h)

    # --- the secret is put back: ready again ------------------------------------------------------
    restart_sfemu()
    back = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(readyz()), 90, "ready again")
    check(back is not None and back["ready"] is True and check_of(back, "auth")["ok"] is True,
          "/readyz: ready again once the login succeeds", back)
    o = org_status()
    au = o.get("auth", {}) if o else {}
    check(au.get("authenticated") is True and au.get("failures") == 0 and au.get("error") == "",
          "status: authenticated again, the failures forgotten", au)
finally:
    for p in emus:
        p.terminate()
        p.wait()
finish()
