#!/usr/bin/env bash
# Captures memory-pressure kernel fixtures (issue 4): runs each scenario of scenarios/pressure/ through `pcsim probe`
# three times on this host (each in a memory cgroup of the scenario's machine.memcg_limit), into
# traces/pressure/<scenario>/run-K/, gzips the logs (readers detect gzip by its magic bytes), and keeps the raw
# ftrace text of run 1 only. Modelled on traces/kernel/capture.sh.
# Usage (root, from anywhere): bash traces/pressure/capture.sh [scenarios/pressure/NAME.ron ...]
# Honours CARGO_TARGET_DIR (default ./target) and RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(scenarios/pressure/*.ron)
fi
for sc in "${scenarios[@]}"; do
  name=$(basename "$sc" .ron)
  # Machine-reclaim scenarios (no memcg_limit) need a machine of their size: the probe cannot shrink this host.
  if ! grep -q memcg_limit "$sc"; then
    echo "skipping $sc: no machine.memcg_limit, and the probe does not shrink the machine" >&2
    continue
  fi
  out=traces/pressure/$name
  rm -rf "$out"
  "$target"/release/pcsim probe "$sc" --out "$out" --runs "$runs"
  # Keep the raw ftrace text of run 1 only; per-op timings are not kept.
  rm -rf "$out"/run-*/ops
  for f in "$out"/run-*/raw_trace.txt; do
    case "$f" in "$out"/run-1/*) gzip -9n "$f" ;; *) rm "$f" ;; esac
  done
  gzip -9n "$out"/run-*/events.log
  # The host must be as it was before the next scenario: no loop device, mount, tracefs instance or cgroup left.
  if losetup -a | grep -q pcsim-probe || mount | grep -q pcsim || ls /sys/fs/cgroup/memory 2>/dev/null | grep -q pcsim \
    || ls /sys/kernel/tracing/instances 2>/dev/null | grep -q pcsim; then
    echo "capture.sh: leftovers after $name; stopping" >&2
    exit 1
  fi
done
