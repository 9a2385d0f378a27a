#!/bin/sh
# Runs Zeek with the package on a capture of the mqtt-ml source tree and checks mqtt_ml.log: one
# record per MQTT message Zeek reports, each scored, with 28-feature vectors. Needs Zeek 6 or 7
# and the plugin built (plugin/build, see plugin/configure).
#   MQTT_ML_SRC   the mqtt-ml source tree (default: ../.. of this package)
#   PCAP          capture to run on (default: $MQTT_ML_SRC/pcaps/mqtt311-basic.pcap)
set -eu
pkg=$(cd "$(dirname "$0")/.." && pwd)
src=${MQTT_ML_SRC:-$pkg/..}
case "$src" in /*) ;; *) src="$pkg/plugin/$src" ;; esac
pcap=${PCAP:-$src/pcaps/mqtt311-basic.pcap}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cd "$out"
ZEEK_PLUGIN_PATH="$pkg/plugin/build${ZEEK_PLUGIN_PATH:+:$ZEEK_PLUGIN_PATH}" \
    zeek -r "$pcap" "$pkg/scripts" MQTT_ML::log_features=T >zeek.out 2>&1 || {
    cat zeek.out
    echo "zeek-package: zeek failed"
    exit 1
}
[ ! -s zeek.out ] || cat zeek.out

fail=0
if [ ! -s mqtt_ml.log ]; then
    echo "FAIL: no mqtt_ml.log"
    fail=1
else
    # Columns by name from the #fields header.
    zeek-cut msgtype score anomaly features <mqtt_ml.log >rows.txt
    rows=$(wc -l <rows.txt)
    unscored=$(awk -F'\t' '$2 == "-" || $2 < 0' rows.txt | wc -l)
    short=$(awk -F'\t' '{ if (split($4, f, ",") != 28) print }' rows.txt | wc -l)
    echo "zeek-package: $rows messages logged, $unscored unscored, $short vectors not 28 long"
    [ "$rows" -gt 0 ] && [ "$unscored" -eq 0 ] && [ "$short" -eq 0 ] || fail=1
fi
if [ "$fail" -eq 0 ]; then
    echo "zeek-package: passed"
else
    echo "zeek-package: failed"
fi
exit "$fail"
