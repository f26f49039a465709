#!/bin/sh
# the old protocol: no _meta, so --host NAME for each host
case "$1" in
--list) echo '{"app": {"hosts": ["app1", "app2"], "vars": {"tier": "front"}}, "solo": {"ansible_host": "192.0.2.9"}}' ;;
--host) case "$2" in
        app1) echo '{"ansible_host": "192.0.2.11", "ansible_port": 2211}' ;;
        app2) echo '{}' ;;
        *) echo '{}' ;;
        esac ;;
esac
