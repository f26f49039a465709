#!/bin/sh
# certbot --manual-cleanup-hook in the style of fe-letsencrypt's cleanup.sh,
# written for the certfleet tests: takes $CERTBOT_VALIDATION out of the
# _acme-challenge TXT record of $CERTBOT_DOMAIN, deleting the record when it
# was the last value.  Same settings and precautions as fe-authenticator.sh.
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
d=${CERTBOT_DOMAIN#\*.}; zone=${FE_DNS_ZONE_ID:-}
while [ -z "$zone" ] && [ -n "$d" ]; do
    zone=$($CURL -H @"$tmp/auth" "${FE_DNS_ENDPOINT%/}/v2/zones?type=public&name=$d." |
           jq -r --arg n "$d." '.zones[] | select(.name == $n) | .id' | head -n1)
    case $d in *.*) d=${d#*.} ;; *) d= ;; esac
done
[ -n "$zone" ] || exit 0
rs=$($CURL -H @"$tmp/auth" "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets?type=TXT&name=$name" |
     jq -c --arg n "$name" '[.recordsets[] | select(.name == $n)][0] // empty')
[ -n "$rs" ] || exit 0
id=$(printf '%s' "$rs" | jq -r .id)
left=$(printf '%s' "$rs" | jq -c --arg v "\"$CERTBOT_VALIDATION\"" '.records - [$v]')
if [ "$left" = "[]" ]; then
    $CURL -o /dev/null -X DELETE -H @"$tmp/auth" "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets/$id"
else
    printf '{"records":%s,"ttl":300}' "$left" |
        $CURL -o /dev/null -X PUT -H @"$tmp/auth" -H 'Content-Type: application/json' -d @- \
        "${FE_DNS_ENDPOINT%/}/v2/zones/$zone/recordsets/$id"
fi
