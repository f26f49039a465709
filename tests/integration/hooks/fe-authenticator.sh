#!/bin/sh
# certbot --manual-auth-hook in the style of FlexibleEngineCloud/fe-letsencrypt's
# authenticator.sh, written for the certfleet tests: creates (or extends) the
# _acme-challenge TXT record of $CERTBOT_DOMAIN with $CERTBOT_VALIDATION through
# the FE DNS API with curl.  Unlike the original, secrets go to curl on stdin or
# from a file, never on its command line, and the token header is parsed
# case-insensitively without its CR.
# Needs: FE_IAM_ENDPOINT FE_DNS_ENDPOINT FE_USERNAME FE_PASSWORD FE_DOMAIN_NAME
#        FE_PROJECT_ID [FE_CA_FILE] [FE_DNS_ZONE_ID]
set -eu
: "${CERTBOT_DOMAIN:?}" "${CERTBOT_VALIDATION:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; chmod 700 "$tmp"
CURL="curl -sS --fail-with-body ${FE_CA_FILE:+--cacert $FE_CA_FILE}"
printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","password":"%s","domain":{"name":"%s"}}}},"scope":{"project":{"id":"%s"}}}}' \
    "$FE_USERNAME" "$FE_PASSWORD" "$FE_DOMAIN_NAME" "$FE_PROJECT_ID" |
    $CURL -D "$tmp/h" -o /dev/null -H 'Content-Type: application/json;charset=utf8' -d @- \
    "${FE_IAM_ENDPOINT%/}/v3/auth/tokens"
tok=$(grep -i '^x-subject-token:' "$tmp/h" | cut -d: -f2- | tr -d ' \r')
printf 'X-Auth-Token: %s\n' "$tok" > "$tmp/auth"
name="_acme-challenge.${CERTBOT_DOMAIN#\*.}."
zone=${FE_DNS_ZONE_ID:-}
if [ -z "$zone" ]; then
    d=${CERTBOT_DOMAIN#\*.}
    while [ -n "$d" ]; do
        zone=$($CURL -H @"$tmp/auth" "${FE_DNS_ENDPOINT%/}/v2/zones?type=public&name=$d." |
               jq -r --arg n "$d." '.zones[] | select(.name == $n) | .id' | head -n1)
        [ -n "$zone" ] && break
        case $d in *.*) d=${d#*.} ;; *) d= ;; esac
    done
fi
[ -n "$zone" ] || { echo "no zone for $CERTBOT_DOMAIN" >&2; exit 1; }
rs=$($CURL -H @"$tmp/auth" "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets?type=TXT&name=$name" |
     jq -c --arg n "$name" '[.recordsets[] | select(.name == $n)][0] // empty')
if [ -z "$rs" ]; then
    jq -n --arg n "$name" --arg v "\"$CERTBOT_VALIDATION\"" \
        '{name:$n,description:"certbot hook",type:"TXT",ttl:300,records:[$v]}' |
        $CURL -o /dev/null -H @"$tmp/auth" -H 'Content-Type: application/json' -d @- \
        "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets"
else
    id=$(printf '%s' "$rs" | jq -r .id)
    printf '%s' "$rs" | jq --arg v "\"$CERTBOT_VALIDATION\"" '{records: (.records + [$v] | unique), ttl: 300}' |
        $CURL -o /dev/null -X PUT -H @"$tmp/auth" -H 'Content-Type: application/json' -d @- \
        "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets/$id"
fi
