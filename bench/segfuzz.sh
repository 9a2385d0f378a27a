#!/usr/bin/env bash
# The segmentation fuzzer's campaign (bench/segfuzz.py) with coverage: builds the plugin with
# LLVM source-based coverage (`-C instrument-coverage`, target/cov/), runs the seed captures
# unchanged (the baselines alone), then re-segmented cases for DURATION seconds, and reports which
# share of the plugin's code (src/) each exercised.
#
#   bench/segfuzz.sh                   # 1800 s over pcaps/*.pcap and pcaps/ns-home/*.pcap
#   DURATION=60 bench/segfuzz.sh       # a short run
#   COVERAGE=0 bench/segfuzz.sh        # the ordinary release build, no coverage
#
# Environment: DURATION (default 1800), SEED_START (default 1), COVERAGE (default 1), OUT (default
# /dev/shm/mqtt-ml-segfuzz.PID: case log, failing cases, profiles and reports are kept there).
# Coverage needs rustup's llvm-tools component; it is added here when missing.
# Exit status: segfuzz.py's (0 when every case passed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/env.sh
DURATION=${DURATION:-1800}
SEED_START=${SEED_START:-1}
COVERAGE=${COVERAGE:-1}
OUT=${OUT:-/dev/shm/mqtt-ml-segfuzz.$$}
mkdir -p "$OUT/plugin"

if [ "$COVERAGE" = 1 ]; then
  TOOLS=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin
  if [ ! -x "$TOOLS/llvm-cov" ]; then
    rustup component add llvm-tools >&2 ||
      { echo "segfuzz: could not add llvm-tools (rustup component add llvm-tools)" >&2; exit 2; }
  fi
  RUSTFLAGS="-C instrument-coverage" cargo build --release --lib --target-dir target/cov --quiet
  BUILT=target/cov/release/libmqtt_ml.so
else
  cargo build --release --quiet
  BUILT=target/release/libmqtt_ml.so
fi
# A copy with the model beside it (where the plugin looks first), so a rebuild during the run
# changes nothing.
cp "$BUILT" "$OUT/plugin/libmqtt_ml.so"
cp models/mqtt-ml.tflite models/mqtt-ml.json "$OUT/plugin/"
PLUGIN=$OUT/plugin/libmqtt_ml.so

echo "segfuzz: output in $OUT"
set +e
if [ "$COVERAGE" = 1 ]; then
  LLVM_PROFILE_FILE="$OUT/prof-baseline/%m.profraw" \
    python3 bench/segfuzz.py --plugin "$PLUGIN" --cases 0 >"$OUT/baseline.txt" 2>&1
  export LLVM_PROFILE_FILE="$OUT/prof-campaign/%m.profraw"
fi
nice -n 10 python3 bench/segfuzz.py --plugin "$PLUGIN" --seconds "$DURATION" \
  --seed-start "$SEED_START" --case-log "$OUT/cases.log" --failures "$OUT/failures" \
  2>&1 | tee "$OUT/segfuzz.txt"
status=${PIPESTATUS[0]}
set -e

if [ "$COVERAGE" = 1 ]; then
  for what in baseline campaign; do
    "$TOOLS/llvm-profdata" merge -sparse "$OUT/prof-$what"/*.profraw -o "$OUT/$what.profdata"
    "$TOOLS/llvm-cov" export "$PLUGIN" -instr-profile="$OUT/$what.profdata" -summary-only \
      >"$OUT/$what-coverage.json"
    "$TOOLS/llvm-cov" report "$PLUGIN" -instr-profile="$OUT/$what.profdata" \
      --ignore-filename-regex='/\.cargo/|/rustc/|/\.rustup/' >"$OUT/$what-coverage.txt"
  done
  # Lines, regions and functions of src/ covered, per folder: the seed captures alone, then the
  # campaign (which replays them too).
  python3 - "$ROOT/src/" "$OUT/baseline-coverage.json" "$OUT/campaign-coverage.json" <<'EOF'
import json, sys
from collections import defaultdict
src = sys.argv[1]
def per_folder(path):
    out = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for f in json.load(open(path))["data"][0]["files"]:
        name = f["filename"]
        if not name.startswith(src):
            continue
        rel = name[len(src):]
        folder = rel.split("/")[0] if "/" in rel else rel
        for group in (folder, "all of src/"):
            for kind in ("lines", "regions", "functions"):
                s = f["summary"][kind]
                out[group][kind][0] += s["covered"]
                out[group][kind][1] += s["count"]
    return out
base, camp = per_folder(sys.argv[2]), per_folder(sys.argv[3])
pct = lambda c: f"{100 * c[0] / c[1]:.1f}% ({c[0]}/{c[1]})" if c[1] else "-"
print("| src/ | lines, seeds alone | lines, campaign | regions, seeds alone | regions, campaign "
      "| functions, campaign |")
print("|---|---|---|---|---|---|")
for g in sorted(camp, key=lambda g: (g == "all of src/", g)):
    print(f"| {g} | {pct(base[g]['lines'])} | {pct(camp[g]['lines'])} | "
          f"{pct(base[g]['regions'])} | {pct(camp[g]['regions'])} | {pct(camp[g]['functions'])} |")
EOF
fi
exit "$status"
