#!/usr/bin/env bash
# Loads the mqtt-ml assets into Elasticsearch and Kibana next to Elastic's Suricata integration
# (Elastic Agent, data stream logs-suricata.eve-<namespace>). See docs/elastic.md.
#
#   ES_URL=https://es.example:9200 KIBANA_URL=https://kibana.example:5601 \
#   ES_API_KEY=... elastic/load.sh            # or ES_USER=elastic ES_PASSWORD=...
#
# Environment:
#   ES_URL          Elasticsearch URL (default http://localhost:9200)
#   KIBANA_URL      Kibana URL (default http://localhost:5601); KIBANA_SPACE for a space other than default
#   ES_API_KEY      API key (base64 "id:key"), or ES_USER + ES_PASSWORD for basic authentication;
#                   used for Kibana too unless KIBANA_API_KEY / KIBANA_USER + KIBANA_PASSWORD are set
#   CURL_OPTS       extra curl options, e.g. "--cacert ca.crt" (or "-k" for a test cluster)
#   NAMESPACE       integration namespace whose data stream is rolled over (default "default")
#   FORCE=1         replace an existing logs-suricata.eve@custom component template / pipeline
#   SKIP_KIBANA=1   load only the Elasticsearch assets; SKIP_ROLLOVER=1 to skip the rollover
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ES_URL=${ES_URL:-http://localhost:9200}
KIBANA_URL=${KIBANA_URL:-http://localhost:5601}
NAMESPACE=${NAMESPACE:-default}
NAME='logs-suricata.eve@custom'
read -r -a extra <<<"${CURL_OPTS:-}"

auth_args() { # $1 = ES or KIBANA
  local key_var="$1_API_KEY" user_var="$1_USER" pass_var="$1_PASSWORD"
  if [ -n "${!key_var:-}" ]; then
    printf '%s\n' -H "Authorization: ApiKey ${!key_var}"
  elif [ -n "${!user_var:-}" ]; then
    printf '%s\n' -u "${!user_var}:${!pass_var:-}"
  elif [ "$1" = KIBANA ]; then
    auth_args ES
  fi
}
mapfile -t es_auth < <(auth_args ES)
mapfile -t kb_auth < <(auth_args KIBANA)

es() { # method path [curl args...]: prints the body, fails on HTTP >= 400
  local method=$1 path=$2; shift 2
  curl -sS --fail-with-body "${extra[@]}" "${es_auth[@]}" -X "$method" "$ES_URL$path" "$@"
}
exists() { # path: HTTP status of a GET
  curl -sS -o /dev/null -w '%{http_code}' "${extra[@]}" "${es_auth[@]}" "$ES_URL$1"
}

# The @custom hooks belong to the user: never overwrite one silently.
for path in "/_component_template/$NAME" "/_ingest/pipeline/$NAME"; do
  code=$(exists "$path")
  if [ "$code" = 200 ] && [ "${FORCE:-0}" != 1 ]; then
    echo "load.sh: $path already exists; merge it with the file from elastic/ by hand, or rerun with FORCE=1 to replace it" >&2
    exit 1
  fi
done

echo "component template $NAME (mappings of suricata.eve.mqtt_ml.*)"
es PUT "/_component_template/$NAME" -H 'Content-Type: application/json' \
  --data-binary "@$here/mqtt-ml-component-template.json"
echo
echo "ingest pipeline $NAME"
es PUT "/_ingest/pipeline/$NAME" -H 'Content-Type: application/json' \
  --data-binary "@$here/logs-suricata.eve@custom.json"
echo

# Mappings apply to new backing indices only: roll the data stream over so the next documents use them.
if [ "${SKIP_ROLLOVER:-0}" != 1 ]; then
  ds="logs-suricata.eve-$NAMESPACE"
  if [ "$(exists "/_data_stream/$ds")" = 200 ]; then
    echo "rollover $ds"
    es POST "/$ds/_rollover"
    echo
  else
    echo "data stream $ds not found yet: the mappings apply when it is created"
  fi
fi

if [ "${SKIP_KIBANA:-0}" != 1 ]; then
  space=""
  [ -n "${KIBANA_SPACE:-}" ] && space="/s/$KIBANA_SPACE"
  echo "Kibana saved objects (data view, visualizations, dashboard)"
  curl -sS --fail-with-body "${extra[@]}" "${kb_auth[@]}" -X POST \
    "$KIBANA_URL$space/api/saved_objects/_import?overwrite=true" \
    -H 'kbn-xsrf: true' --form "file=@$here/kibana-dashboard.ndjson"
  echo
fi
