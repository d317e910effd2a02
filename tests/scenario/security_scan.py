"""security_scan.py WORK - looks for the secrets of test_security_secrets.sh (in the environment:
CS, RT, TA, TR, HK; the TLS key in WORK/tls.key) and for any access token sfemu issued, in serve's
log, every response kept in WORK/seen/, and the store's files, byte for byte. Exit 1 on any find."""
import glob
import os
import re
import sys

work = sys.argv[1]
secrets = {k: os.environ[k].encode() for k in ("CS", "RT", "TA", "TR", "HK")}
key_lines = [l for l in open(os.path.join(work, "tls.key"), "rb").read().splitlines() if l and not l.startswith(b"-----")]
for i, l in enumerate(key_lines[:3] + key_lines[-2:-1]):
    secrets["TLS key line %d" % i] = l
# an sfemu access token: the org id, '!', and its random part
access = re.compile(rb"00D000000000001![A-Za-z0-9_.\-]{16,}")
# the parts of a secret that would survive an escaping or a cut: its random middle
mids = {k + " (middle)": v.split(b"-")[2] for k, v in secrets.items() if not k.startswith("TLS") and v.count(b"-") >= 3}

places = [os.path.join(work, "clm.log")] + sorted(glob.glob(os.path.join(work, "seen", "*")))
store = sorted(p for p in glob.glob(os.path.join(work, "clm-data", "*")) if os.path.isfile(p))
places += store
fails = 0
looked = 0
for p in places:
    data = open(p, "rb").read()
    looked += len(data)
    for k, v in list(secrets.items()) + list(mids.items()):
        if v in data:
            print("FAIL %s found in %s" % (k, p))
            fails += 1
    m = access.search(data)
    if m:
        print("FAIL an access token (%s...) found in %s" % (m.group(0)[:22].decode(), p))
        fails += 1
print("%s   scanned %d files, %d bytes: serve's log, %d responses, %d store files (%s)" % (
    "ok" if not fails else "FAIL", len(places), looked, len(places) - 1 - len(store), len(store),
    ", ".join(os.path.basename(s) for s in store)))
seen = " ".join(open(p, "rb").read().decode("utf-8", "replace") for p in places[1:])
# the scan would see them: the operator's views did answer, and the log is there
for must in ["clmsync_", "\"mappings\"", "login refused"]:
    where = seen if must != "login refused" else open(places[0], errors="replace").read()
    if must not in where:
        print("FAIL the scan did not see %r: the views it checks were not collected" % must)
        fails += 1
sys.exit(1 if fails else 0)
