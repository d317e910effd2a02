#!/usr/bin/env python3
"""gen_contracts.py N OUT [--parents] - writes a contract CSV of N rows for the import tests and bench.

Columns use the import's default names; numbers are IMP-000000.. so rows can be matched after a
round trip. Every fourth row is active or signed (with signature dates in the past); amounts have
exactly their currency's minor digits (EUR 2, JPY 0, BHD 3); some titles hold quotes, commas and
non-ASCII text, some descriptions hold line breaks. With --parents every tenth row from the
twentieth on names an earlier row as its parent by number.
"""
import csv
import datetime
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
parents = "--parents" in sys.argv
random.seed(7)
today = datetime.date.today()
cur = [("EUR", 2), ("JPY", 0), ("BHD", 3), ("USD", 2)]
with open(out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["number", "title", "type", "status", "counterparty_legal_name", "owner", "effective_date",
                "term_months", "auto_renew", "renewal_notice_days", "total_value_amount", "total_value_currency",
                "payment_terms", "customer_signed_date", "company_signed_date", "description",
                "parent_contract_number", "custom.region"])
    for i in range(n):
        c, d = cur[i % 4]
        amt = str(random.randint(0, 10**9)) + ("." + str(random.randint(0, 10**d - 1)).zfill(d) if d else "")
        st = ["draft", "in_review", "active", "signed"][i % 4]
        eff = today - datetime.timedelta(days=random.randint(1, 300))
        sig = (eff - datetime.timedelta(days=5)).isoformat() if st in ("active", "signed") else ""
        title = "Contract %d \u2013 \u00dcn\u00efcode, \"quoted\"" % i if i % 97 == 0 else "Contract %d" % i
        desc = "line one\nline two" if i % 101 == 0 else ""
        parent = "IMP-%06d" % (i - 10) if parents and i >= 20 and i % 10 == 0 else ""
        w.writerow(["IMP-%06d" % i, title, ["msa", "sow", "nda", "order_form"][i % 4], st,
                    "Counterparty %d" % (i % 500), "owner%d" % (i % 17), eff.isoformat(), 12 + i % 24,
                    "true" if i % 3 == 0 else "false", 30, amt, c, "net 30", sig, sig, desc, parent,
                    ["EMEA", "AMER", "APAC", ""][i % 4]])
