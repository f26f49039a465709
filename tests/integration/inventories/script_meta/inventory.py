#!/usr/bin/python3
import json, sys
if sys.argv[1:] == ["--list"]:
    print(json.dumps({
        "web": {"hosts": ["web1", "web2"], "vars": {"http_port": 80}, "children": ["web_eu"]},
        "web_eu": ["web3"],
        "db": {"hosts": ["db1"]},
        "_meta": {"hostvars": {"web1": {"ansible_host": "192.0.2.1", "ansible_port": 2201},
                               "db1": {"ansible_user": "postgres", "flag": True, "n": None}}},
    }))
else:
    sys.exit("called with --host: " + " ".join(sys.argv[1:]))
