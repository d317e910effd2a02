"""sync_config.py STORE ORG=URL[,ORG=URL] [key=value ...]: prints a test configuration (see sync_lib).

Keys are standard_mappings' options, applied to every org, or to one org as ORG.key=value;
max_attempts=N sets sync.retry.max_attempts; custom=yes adds scenario 10's custom attributes,
custom Contract fields and the Obligation__c mapping; with route=..., children=yes adds an
Obligation__c mapping to each org whose records follow their contract (route: parent)."""
import sys

import sync_lib

store = sys.argv[1]
orgs = [tuple(o.split("=", 1)) for o in sys.argv[2].split(",")]
opts = dict(a.split("=", 1) for a in sys.argv[3:])
max_attempts = int(opts.pop("max_attempts", "6"))
custom = opts.pop("custom", "") == "yes"     # scenario 10: custom fields and Obligation__c
children = opts.pop("children", "") == "yes"  # with route: Obligation__c in each org, following its contract
per_org = {k: v for k, v in opts.items() if "." in k}
opts = {k: v for k, v in opts.items() if "." not in k}


def org_opts(name):
    o = dict(opts)
    o.update({k.split(".", 1)[1]: v for k, v in per_org.items() if k.split(".", 1)[0] == name})
    return o


maps = ""
if "route" in opts:
    # two orgs: contracts routed by region, a counterparty mapping in each
    routes = opts.pop("route").split(";")
    for k, ((name, _), r) in enumerate(zip(orgs, routes)):
        o = org_opts(name)
        if k > 0:
            o.setdefault("revenue_owner", "clm")    # one master for a field of a shared counterparty
        maps += sync_lib.standard_mappings(name, route=r.split("|"), suffix="-" + name, **o)
        if children:
            maps += sync_lib.obligation_mapping(name, suffix="-" + name, follow=True)
elif custom:
    maps = sync_lib.standard_mappings(orgs[0][0], contract_fields=sync_lib.CUSTOM_CONTRACT_FIELDS,
                                      **org_opts(orgs[0][0]))
    maps += sync_lib.obligation_mapping(orgs[0][0])
else:
    maps = sync_lib.standard_mappings(orgs[0][0], **org_opts(orgs[0][0]))
print(sync_lib.config_yaml(store, orgs, maps, max_attempts=max_attempts,
                           custom_attrs=sync_lib.CUSTOM_ATTRS if custom or children else ""))
