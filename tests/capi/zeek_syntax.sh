#!/usr/bin/env bash
# Syntax checks of the Zeek package (zeek/) without Zeek, which is not needed (nor installed) to
# run the rest of the tests:
#   - every .zeek file parses with zeekscript's Zeek grammar (tree-sitter-zeek), without error
#     nodes, and zeek-format's rendering of it parses too;
#   - the plugin's Zeek-free C++ (zeek/plugin/src/Model.cc) and the C ABI header compile
#     (g++ -fsyntax-only, C++ and C); the parts that need Zeek's headers (Plugin.cc, the .bif)
#     are NOT compiled here;
#   - configure is valid sh.
# zeekscript goes into a private venv: $MQTT_ML_CACHE/zeek-venv. Closing line:
# "zeek-syntax: N passed, M failed"; exits non-zero on failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MQTT_ML_CACHE=${MQTT_ML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mqtt-ml}
VENV=$MQTT_ML_CACHE/zeek-venv
ZEEKSCRIPT_VERSION=1.3.6
if [ ! -x "$VENV/bin/zeek-script" ]; then
  echo "[zeek-syntax] installing zeekscript $ZEEKSCRIPT_VERSION into $VENV" >&2
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "zeekscript==$ZEEKSCRIPT_VERSION" || {
    echo "zeek-syntax: 0 passed, 1 failed (cannot install zeekscript)"
    exit 1
  }
fi

passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

mapfile -t files < <(cd "$ROOT" && find zeek -name '*.zeek' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  fail "no .zeek files under zeek/"
fi
for f in "${files[@]}"; do
  if "$VENV/bin/zeek-script" parse -q "$ROOT/$f"; then
    ok
  else
    fail "$f does not parse (zeek-script parse: $?)"
    "$VENV/bin/zeek-script" parse "$ROOT/$f" 2>&1 | grep -iE 'error|missing' | head -5
    continue
  fi
  if "$VENV/bin/zeek-format" "$ROOT/$f" >"$tmp/fmt.zeek" 2>"$tmp/fmt.err" \
    && "$VENV/bin/zeek-script" parse -q "$tmp/fmt.zeek"; then
    ok
  else
    fail "$f: zeek-format's output does not parse"
  fi
done

inc=(-I"$ROOT/zeek/plugin/include" -I"$ROOT/zeek/plugin/src")
if g++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror "${inc[@]}" "$ROOT/zeek/plugin/src/Model.cc"; then
  ok
else
  fail "zeek/plugin/src/Model.cc does not compile"
fi
for std in c99 c11; do
  if echo '#include "mqtt_ml.h"' | gcc -std=$std -fsyntax-only -Wall -Wextra -Werror -pedantic "${inc[@]}" -x c -; then
    ok
  else
    fail "mqtt_ml.h is not valid $std"
  fi
done
if echo '#include "mqtt_ml.h"' | g++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror "${inc[@]}" -x c++ -; then
  ok
else
  fail "mqtt_ml.h is not valid C++17"
fi
if sh -n "$ROOT/zeek/plugin/configure"; then
  ok
else
  fail "zeek/plugin/configure is not valid sh"
fi

echo "zeek-syntax: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
