# Shared paths for mqtt-ml's scripts. Source it; it only sets variables.
#   SURICATA_PREFIX       where Suricata 8.0.7 lives: $SURICATA_PREFIX if set, else a system install
#                         of 8.0.7 with plugin headers, else the cached prefix scripts/setup.sh builds
#   SURICATA_YAML         that install's stock suricata.yaml
#   SURICATA_INCLUDE_DIR  its headers (for the plugin's C shim)
SURICATA_VERSION=8.0.7
MQTT_ML_CACHE=${MQTT_ML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-ml}
if [ -z "${SURICATA_PREFIX:-}" ]; then
  SURICATA_PREFIX=$MQTT_ML_CACHE/suricata-$SURICATA_VERSION
  if [ ! -x "$SURICATA_PREFIX/bin/suricata" ] && command -v suricata >/dev/null 2>&1; then
    # The plugin declares some Suricata types by hand, so only this exact version will do.
    _sys_prefix=$(dirname "$(dirname "$(command -v suricata)")")
    if suricata -V 2>/dev/null | grep -q "version $SURICATA_VERSION " \
       && [ -f "$_sys_prefix/include/suricata/suricata-common.h" ]; then
      SURICATA_PREFIX=$_sys_prefix
    fi
    unset _sys_prefix
  fi
fi
export SURICATA_VERSION MQTT_ML_CACHE SURICATA_PREFIX
case ":$PATH:" in *":$SURICATA_PREFIX/bin:"*) ;; *) PATH="$SURICATA_PREFIX/bin:$PATH" ;; esac
export PATH
SURICATA_YAML=$SURICATA_PREFIX/etc/suricata/suricata.yaml
[ -f "$SURICATA_YAML" ] || SURICATA_YAML=/etc/suricata/suricata.yaml
export SURICATA_YAML
if [ -z "${SURICATA_INCLUDE_DIR:-}" ] && [ -f "$SURICATA_PREFIX/include/suricata/suricata-common.h" ]; then
  SURICATA_INCLUDE_DIR="$SURICATA_PREFIX/include/suricata"
  export SURICATA_INCLUDE_DIR
fi
