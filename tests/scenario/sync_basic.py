"""sync_basic.py - scenarios 1 to 3: creates, updates and ownership both ways (run by test_sync_basic.sh)."""
from sync_lib import CLM, SF, check, env, finish, wait_for

sf_url, clm_url, token = env()
sf, clm = SF(sf_url), CLM(clm_url, token)

# 1. A contract created in the repository appears in Salesforce with every mapped field, its
#    Account first.
cp = clm.create("counterparties", {"legal_name": "Acme GmbH", "registration_number": "HRB 1",
                                   "custom": {"industry": "Software"}})
ct = clm.create("contracts", {"title": "Master Services Agreement", "type": "msa", "counterparty_id": cp["id"],
                              "effective_date": "2026-03-29", "term_months": 12, "auto_renew": True,
                              "total_value": {"amount": "120000.5", "currency": "EUR"},
                              "payment_terms": "net 30", "description": "first"})
F = "Id,Name,AccountId,CLM_Number__c,CLM_Type__c,StartDate,ContractTerm,CLM_Renewal_Date__c,CLM_Auto_Renew__c," \
    "CLM_Value__c,CLM_Currency__c,CLM_Payment_Terms__c,Description,CLM_Lifecycle_Status__c,Status,CustomerSignedDate," \
    "SpecialTerms,CLM_Governing_Law__c"
sc = wait_for(lambda: sf.by_ext("Contract", "CLM_Id__c", ct["id"], F), what="contract in Salesforce")
acc = sf.by_ext("Account", "CLM_Id__c", cp["id"], "Id,Name,CLM_Registration_Number__c,CLM_Status__c,Industry")
check(len(acc) == 1, "the counterparty became one Account", acc)
check(sc is not None and len(sc) == 1, "the contract became one Contract", sc)
if sc and acc:
    c, a = sc[0], acc[0]
    check(a["Name"] == "Acme GmbH" and a["CLM_Registration_Number__c"] == "HRB 1" and a["CLM_Status__c"] == "Active"
          and a["Industry"] == "Technology", "Account fields mapped (value map Software -> Technology)", a)
    check(c["AccountId"] == a["Id"], "Contract.AccountId is the counterparty's Account", c)
    check(c["Name"] == "Master Services Agreement" and c["CLM_Number__c"] == ct["number"] and c["CLM_Type__c"] == "MSA",
          "name, number and type (picklist) mapped", c)
    check(c["StartDate"] == "2026-03-29" and c["ContractTerm"] == 12 and c["CLM_Renewal_Date__c"] == ct["expiration_date"],
          "dates and term exact, no day shifted", c)
    check(c["CLM_Value__c"] == 120000.5 and c["CLM_Currency__c"] == "EUR" and c["CLM_Auto_Renew__c"] is True,
          "money and boolean mapped", c)
    check(c["Status"] == "Draft" and c["CLM_Lifecycle_Status__c"] == "Draft", "lifecycle status mapped both ways", c)
    check(c["Description"] == "first" and c["CLM_Payment_Terms__c"] == "net 30", "text fields mapped", c)
    sfc, sfa = c["Id"], a["Id"]

# 1b. The reverse: an Account and a Contract created in Salesforce appear in the repository.
a2 = sf.create("Account", {"Name": "Globex Corp", "Industry": "Finance", "AnnualRevenue": 1234})
c2 = sf.create("Contract", {"Name": "Globex NDA", "AccountId": a2, "StartDate": "2026-02-28", "ContractTerm": 6,
                            "CLM_Type__c": "NDA", "Description": "made in Salesforce", "CustomerSignedDate": "2026-02-27"})
def linked(sobject, sid):
    r = sf.get(sobject, sid)
    return r if r and r.get("CLM_Id__c") else None
ra2 = wait_for(lambda: linked("Account", a2))
rc2 = wait_for(lambda: linked("Contract", c2))
check(ra2 is not None and rc2 is not None, "records created in Salesforce got their repository ids back", (ra2, rc2))
if ra2 and rc2:
    cp2 = clm.get("counterparties", ra2["CLM_Id__c"])
    ct2 = clm.get("contracts", rc2["CLM_Id__c"])
    check(cp2 and cp2["legal_name"] == "Globex Corp" and cp2["custom"]["industry"] == "Finance"
          and cp2["custom"].get("revenue") == "1234.00", "the Account is a counterparty (currency at the mapped scale)", cp2)
    check(ct2 and ct2["title"] == "Globex NDA" and ct2["counterparty_id"] == cp2["id"] and ct2["type"] == "nda"
          and ct2["effective_date"] == "2026-02-28" and ct2["term_months"] == 6
          and ct2["description"] == "made in Salesforce" and ct2["customer_signed_date"] == "2026-02-27",
          "the Contract is a contract linked to that counterparty", ct2)
    check(rc2.get("CLM_Number__c") == ct2["number"] and rc2.get("CLM_Lifecycle_Status__c") == "Draft",
          "the repository's own fields went back to Salesforce", rc2)

# 2. Updates in each direction: nulls, picklists, money, dates.
st, _ = clm.patch("contracts", ct["id"], {"description": None, "total_value": {"amount": "99.99", "currency": "USD"},
                                           "effective_date": "2026-12-31"})
check(st == 200, "repository update accepted")
got = wait_for(lambda: (lambda r: r if r["Description"] is None and r["CLM_Value__c"] == 99.99 else None)(sf.get("Contract", sfc)))
check(got and got["CLM_Currency__c"] == "USD" and got["StartDate"] == "2026-12-31",
      "null, money and a year-end date reached Salesforce exactly", got)
st, _ = clm.transition(ct["id"], "in_review")
got = wait_for(lambda: (lambda r: r if r["CLM_Lifecycle_Status__c"] == "In Review" else None)(sf.get("Contract", sfc)))
check(got and got["Status"] == "Draft", "a transition maps through both value maps (In Review / Draft)", got)
sf.update("Contract", sfc, {"Description": "edited in Salesforce", "CustomerSignedDate": "2026-03-01"})
got = wait_for(lambda: (lambda r: r if r.get("description") == "edited in Salesforce" else None)(clm.get("contracts", ct["id"])))
check(got and got["customer_signed_date"] == "2026-03-01", "Salesforce edits reached the repository, date exact", got)
sf.update("Contract", sfc, {"Description": None})
got = wait_for(lambda: (lambda r: r if "description" not in r or r["description"] is None else None)(clm.get("contracts", ct["id"])))
check(got is not None, "a field nulled in Salesforce (nulledFields) is cleared in the repository", got)
sf.update("Account", sfa, {"AnnualRevenue": 10})
got = wait_for(lambda: (lambda r: r if r.get("custom", {}).get("revenue") == "10.00" else None)(clm.get("counterparties", cp["id"])))
check(got is not None, "a Salesforce-owned currency reached the repository as exact decimal 10.00", clm.get("counterparties", cp["id"]))

# 3. Ownership.
sf.update("Contract", sfc, {"Status": "Activated", "CLM_Number__c": "HACKED"})
got = wait_for(lambda: (lambda r: r if r["Status"] == "Draft" and r["CLM_Number__c"] == ct["number"] else None)(sf.get("Contract", sfc)))
check(got is not None, "Salesforce edits of repository-owned fields are reverted", sf.get("Contract", sfc))
check(clm.get("contracts", ct["id"])["status"] == "in_review", "the repository kept its status")
sf.update("Account", sfa, {"CLM_Registration_Number__c": "HRB 999"})
sf.update("Account", sfa, {"Name": "Acme AG"})   # a later change proves the earlier one was planned
got = wait_for(lambda: (lambda r: r if r["legal_name"] == "Acme AG" else None)(clm.get("counterparties", cp["id"])))
check(got and got["registration_number"] == "HRB 1" and sf.get("Account", sfa)["CLM_Registration_Number__c"] == "HRB 999",
      "non_owner_write ignore: the Salesforce value stays, the repository's too", got)
st, _ = clm.patch("contracts", ct["id"], {"governing_law": "Swiss law"})
got = wait_for(lambda: (lambda r: r if r.get("governing_law") is None else None)(clm.get("contracts", ct["id"])))
check(got is not None, "a repository edit of a Salesforce-owned field is reverted", clm.get("contracts", ct["id"]))
check(sf.get("Contract", sfc)["CLM_Governing_Law__c"] is None, "and Salesforce did not receive it")
sf.update("Contract", sfc, {"CLM_Governing_Law__c": "English law"})
got = wait_for(lambda: (lambda r: r if r.get("governing_law") == "English law" else None)(clm.get("contracts", ct["id"])))
check(got is not None, "the Salesforce-owned field flows from Salesforce")
st, _ = clm.patch("contracts", ct["id"], {"custom": {"opportunity_stage": "mine"}})
sf.update("Contract", sfc, {"Description": "marker"})
got = wait_for(lambda: (lambda r: r if r.get("description") == "marker" else None)(clm.get("contracts", ct["id"])))
check(got and got["custom"].get("opportunity_stage") == "mine" and sf.get("Contract", sfc)["SpecialTerms"] is None,
      "non_owner_write ignore from the repository: kept and not sent", got)
finish()
