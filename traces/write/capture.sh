#!/usr/bin/env bash
# Captures write-side kernel fixtures (issue 5): runs each scenario of scenarios/write/ through
# `pcsim probe --allow-sysctl` three times on this host into traces/write/<scenario>/run-K/, gzips the event logs and
# vmstat series (readers detect gzip by its magic bytes), keeps the raw ftrace text of run 1 only, and appends the
# load average before and after each scenario to traces/write/load.txt. A scenario whose run fails because another
# process changed the host's sysctls under it ("the host changed during the run") is tried again, up to 3 times.
# Usage (root, from anywhere): bash traces/write/capture.sh [scenarios/write/NAME.ron ...]
# Honours CARGO_TARGET_DIR (default ./target), RUNS (default 3) and SETTLE (seconds to wait before each run,
# default 12: the writeout fractions of earlier writeback halve every 3 s; `pcsim probe --settle`).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(scenarios/write/*.ron)
fi
# Prints and fails on what an exited probe left behind (names carry the probe's pid: pcsim-probe-PID-RUN, pcsim-PID).
leftovers() {
  local bad=0 pid dev bf
  for pid in $( (losetup -a; mount) | grep -o 'pcsim-probe-[0-9]*' | cut -d- -f3 | sort -u); do
    [ -d /proc/$pid ] || { echo "capture.sh: leftover loop device or mount of probe $pid" >&2; bad=1; }
  done
  for pid in $(ls /sys/kernel/tracing/instances 2>/dev/null | grep -o '^pcsim-[0-9]*$' | cut -d- -f2); do
    [ -d /proc/$pid ] || { echo "capture.sh: leftover tracefs instance of probe $pid" >&2; bad=1; }
  done
  while read -r dev _; do
    [ -n "$dev" ] || continue
    bf=$(cat /sys/dev/block/$dev/loop/backing_file 2>/dev/null || true)
    pid=$(echo "$bf" | grep -o 'pcsim-probe-[0-9]*' | cut -d- -f3 || true)
    if [ -z "$bf" ] || { [ -n "$pid" ] && [ ! -d /proc/$pid ]; }; then
      echo "capture.sh: leftover blkio write throttle on $dev" >&2; bad=1
    fi
  done < <(awk '$2 != 0' /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device 2>/dev/null)
  [ $bad = 0 ] || exit 1
}
for sc in "${scenarios[@]}"; do
  name=$(basename "$sc" .ron)
  out=traces/write/$name
  for try in 1 2 3; do
    rm -rf "$out"
    before=$(cut -d' ' -f1-3 /proc/loadavg)
    if "$target"/release/pcsim probe "$sc" --out "$out" --runs "$runs" --allow-sysctl --settle "${SETTLE:-12}" 2>/tmp/pcsim-capture-$$.err; then
      cat /tmp/pcsim-capture-$$.err >&2
      break
    fi
    cat /tmp/pcsim-capture-$$.err >&2
    if ! grep -q "the host changed during the run" /tmp/pcsim-capture-$$.err || [ "$try" = 3 ]; then
      echo "capture.sh: $name failed" >&2
      exit 1
    fi
    echo "capture.sh: $name: the host changed under the run; trying again" >&2
  done
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  sed -i "/^$name /d" traces/write/load.txt 2>/dev/null || true
  echo "$name loadavg_before=$before loadavg_after=$after" >> traces/write/load.txt
  rm -rf "$out"/run-*/ops
  for f in "$out"/run-*/raw_trace.txt; do
    case "$f" in "$out"/run-1/*) gzip -9n "$f" ;; *) rm "$f" ;; esac
  done
  gzip -9n "$out"/run-*/events.log "$out"/run-*/vmstat_series.txt
  # The host must be as it was before the next scenario: no loop device, mount, tracefs instance or throttle rule of
  # a probe that has exited (other pcsim sessions on this host may be running probes of their own).
  leftovers
done
rm -f /tmp/pcsim-capture-$$.err
