#!/usr/bin/env bash
# The fuzz targets' smoke run (docs/RELIABILITY.md "Fuzzing"): each target of fuzz/ built with cargo-fuzz (nightly,
# address sanitizer, debug assertions) and run for FUZZ_SECONDS (default 20) from a corpus seeded with the
# repository's own inputs: the scenarios, the captured event logs and raw ftrace text, the small run-directory
# files. The corpus and any crash artifacts live in a temporary directory that is removed at the end; a crash
# fails the run and its input is printed (base64) so it can be reproduced.
# usage: bash .ci/fuzz-smoke.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario event_log ftrace readers model)

work=$(mktemp -d "${TMPDIR:-/tmp}/pcsim-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Seeds: at most 64 KiB of each file (libFuzzer's max_len follows the largest seed).
seed() { # seed DIR NAME PREFIX_BYTE FILE...
  local dir=$1 name=$2 prefix=$3 i=0
  shift 3
  mkdir -p "$dir"
  for f in "$@"; do
    i=$((i + 1))
    case $f in
      *.gz) { printf '%b' "$prefix"; { gzip -dc "$f" 2>/dev/null || true; } | head -c 65536; } >"$dir/$name$i" ;;
      *) { printf '%b' "$prefix"; head -c 65536 "$f"; } >"$dir/$name$i" ;;
    esac
  done
}
mapfile -t scen < <(find scenarios -name '*.ron' | sort)
mapfile -t logs < <(find traces -name 'events.log.gz' | sort | head -n 20)
mapfile -t raw < <(find traces -name 'raw_trace.txt.gz' | sort | head -n 10)
mapfile -t resid < <(find traces -name 'residency.txt' | sort | head -n 10)
mapfile -t cstat < <(find traces -name 'cachestat.txt' | sort | head -n 5)
mapfile -t vmst < <(find traces -name 'vmstat.txt' | sort | head -n 5)
mapfile -t series < <(find traces -name 'vmstat_series.txt' | sort | head -n 5)
mapfile -t ext < <(find traces -name 'extents.txt' | sort | head -n 10)
seed "$work/seeds/scenario" s '' "${scen[@]}"
seed "$work/seeds/event_log" s '' "${logs[@]}"
seed "$work/seeds/ftrace" s '' "${raw[@]}"
# readers: the first byte picks the reader (0 residency, 1 cachestat, 2 vmstat, 3 series, 4 extents).
seed "$work/seeds/readers" residency '\x00' "${resid[@]}"
seed "$work/seeds/readers" cachestat '\x01' "${cstat[@]}"
seed "$work/seeds/readers" vmstat '\x02' "${vmst[@]}"
seed "$work/seeds/readers" series '\x03' "${series[@]}"
seed "$work/seeds/readers" extents '\x04' "${ext[@]}"
# model: its bytes are op codes, not text; it starts from an empty corpus.
mkdir -p "$work/seeds/model"

# Built into fuzz/target (ignored by git), outside the temporary directory so a second run reuses it.
cargo +nightly fuzz build -a 2>&1 | tail -n 3
status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  log="$work/$t.log"
  if cargo +nightly fuzz run -a "$t" "$work/corpus/$t" "$work/seeds/$t" -- \
    -max_total_time="$seconds" -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz $t: ${runs:-?} runs in ${seconds} s, ${cov:-cov: ?}, no crash"
  else
    status=1
    echo "fuzz $t: FAILED" >&2
    tail -n 40 "$log" >&2
    for a in "$work/artifacts/$t"/*; do
      [ -f "$a" ] && { echo "input $(basename "$a") (base64):" >&2; base64 -w 0 "$a" >&2; echo >&2; }
    done
  fi
done
exit $status
