#!/usr/bin/env bash
# Captures kernel fixtures: runs each read-side validation scenario through `pcsim probe` three times on this host,
# into traces/kernel/<scenario>/run-K/, gzips the logs (readers detect gzip by its magic bytes), and keeps the raw
# ftrace text of run 1 only.
# Usage (root, from the repository root): bash traces/kernel/capture.sh [scenarios/validation/NAME.ron ...]
# Honours CARGO_TARGET_DIR (default ./target) and RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(scenarios/validation/*.ron)
fi
for sc in "${scenarios[@]}"; do
  name=$(basename "$sc" .ron)
  out=traces/kernel/$name
  rm -rf "$out"
  # --allow-sysctl applies the scenario's own vm sysctls (write-side scenarios set dirty_bytes); others set none.
  "$target"/release/pcsim probe "$sc" --out "$out" --runs "$runs" --allow-sysctl
  # Keep the raw ftrace text of run 1 only (tests check the normaliser against it); per-op timings are not kept.
  rm -rf "$out"/run-*/ops
  for f in "$out"/run-*/raw_trace.txt; do
    case "$f" in "$out"/run-1/*) gzip -9n "$f" ;; *) rm "$f" ;; esac
  done
  gzip -9n "$out"/run-*/events.log
done
