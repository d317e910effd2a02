"""sync_config.py STORE ORG=URL[,ORG=URL] [key=value ...]: prints a test configuration (see sync_lib)."""
import sys

import sync_lib

store = sys.argv[1]
orgs = [tuple(o.split("=", 1)) for o in sys.argv[2].split(",")]
opts = dict(a.split("=", 1) for a in sys.argv[3:])
extra = ""
maps = ""
if "route" in opts:
    # two orgs: contracts routed by region, a counterparty mapping in each
    routes = opts.pop("route").split(";")
    for (name, _), r in zip(orgs, routes):
        maps += sync_lib.standard_mappings(name, route=r.split("|"), suffix="-" + name, **opts)
else:
    maps = sync_lib.standard_mappings(orgs[0][0], **opts)
print(sync_lib.config_yaml(store, orgs, maps, extra))
