#!/usr/bin/env bash
# Regenerates the what-if plots in plots/whatif/ (README.md and docs/SWEEP.md show them) from the bundled
# scenarios in scenarios/whatif/: each sweep runs into a scratch directory, and the plots named below are copied
# here. Usage: plots/whatif/regenerate.sh [PCSIM]   (default: target/release/pcsim; build it first)
set -euo pipefail
cd "$(dirname "$0")/../.."
PCSIM=${1:-target/release/pcsim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sweep() { # NAME SCENARIO ARGS...
  local name=$1 sc=$2
  shift 2
  echo "+ pcsim sweep scenarios/whatif/$sc.ron $* --plot --out DIR" >&2
  "$PCSIM" sweep "scenarios/whatif/$sc.ron" "$@" --jobs 2 --plot --out "$work/$name" >/dev/null 2>&1
}
sweep fsync fsync_beside_bulk --zip --set 'sysctls."vm.dirty_bytes"=16m..256m:x2' \
  --set 'sysctls."vm.dirty_background_bytes"=8m..128m:x2' --seeds 1..3
cp "$work/fsync/plots/metric-db.sync_p99_us.svg" plots/whatif/fsync_beside_bulk-db_fsync_p99.svg
cp "$work/fsync/plots/metric-bulk.mib_s.svg" plots/whatif/fsync_beside_bulk-bulk_mib_s.svg
sweep usb usb_stick_fsync --set 'sysctls."vm.dirty_bytes"=8m..256m:x2'
cp "$work/usb/plots/metric-sync_max_us.svg" plots/whatif/usb_stick_fsync-fsync_latency.svg
cp "$work/usb/plots/metric-at_risk_max_mib.svg" plots/whatif/usb_stick_fsync-at_risk.svg
cp "$work/usb/plots/runs/c0005/dirty.svg" plots/whatif/usb_stick_fsync-dirty-256m.svg
sweep mrc stream_reread --set machine.memcg_limit=64m..640m:+64m --set devices.disk0.read_ahead_kb=128,1024
cp "$work/mrc/plots/mrc-device_reads.svg" plots/whatif/stream_reread-mrc.svg
cp "$work/mrc/plots/mrc-miss_ratio.svg" plots/whatif/stream_reread-miss_ratio.svg
cp "$work/mrc/plots/runs/c0006/residency-data.svg" plots/whatif/stream_reread-residency-256m.svg
sweep ra stream_reread --set devices.disk0.read_ahead_kb=16..4096:x4 --seeds 1..3
cp "$work/ra/plots/metric-elapsed_s.svg" plots/whatif/stream_reread-ra_elapsed.svg
sweep memcg log_memcg --set machine.memcg_limit=128m..512m:+64m
cp "$work/memcg/plots/metric-refaults.svg" plots/whatif/log_memcg-refaults.svg
cp "$work/memcg/plots/metric-lookup.p99_us.svg" plots/whatif/log_memcg-lookup_p99.svg
ls plots/whatif/
