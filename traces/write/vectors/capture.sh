#!/usr/bin/env bash
# Captures dirty-throttling test vectors on this host: the kernel's own balance_dirty_pages, bdi_dirty_ratelimit and
# global_dirty_state events while dd writes through a fresh loop device, for tests/page_writeback_vectors.rs.
#
# Usage (root, any directory): bash traces/write/vectors/capture.sh [RUN ...]
#   runs: bytes_1dd bytes_2dd ratio_1dd bytes_rt bytes_slow (default: all)
# Output next to this script: RUN.txt (the writers' events, trimmed), RUN.meta (settings, meminfo, vmstat and
# zoneinfo at capture time). The loop device is capped at 48 MiB/s (4 MiB/s for bytes_slow) with a blkio rule so
# that dd (about 200 MB/s here) is throttled at all. Re-runnable; everything it changes is restored by the EXIT trap: the four dirty
# sysctls (writing one zeroes its twin, so the twin that was set is written back), the blkio throttle rule, the
# tracefs instance (and tracefs itself if this script mounted it), the mount, the loop device and the scratch files.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
T=/sys/kernel/tracing
INST=$T/instances/pcsim-vectors
WORK=$(mktemp -d /var/tmp/pcsim-vectors.XXXXXX)
# The trace is streamed to tmpfs: written to the host disk it would itself be throttled (and count as dirty).
SHM=$(mktemp -d /dev/shm/pcsim-vectors.XXXXXX)
MNT=$WORK/mnt
IMG=$WORK/img
BLKIO=/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
MAX_LINES=${MAX_LINES:-2500}
LOOP=""
LOOP_DEV=""
READER=""
MOUNTED_TRACEFS=0
THROTTLED=0
MADE_NODE=0

[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root" >&2; exit 2; }
# The dirty sysctls are global: a probe run (`pcsim probe --allow-sysctl`) changing them meanwhile would spoil the
# vectors, and one that starts while ours are set would save and later "restore" our values. Wait for it instead.
if pgrep -f 'pcsim probe' > /dev/null && [ "${FORCE:-0}" != 1 ]; then
  echo "capture.sh: a \`pcsim probe\` is running (it may change vm.dirty_*); run again when it is done (FORCE=1 overrides)" >&2
  exit 2
fi

declare -A SAVED
for k in dirty_bytes dirty_ratio dirty_background_bytes dirty_background_ratio; do
  SAVED[$k]=$(cat /proc/sys/vm/$k)
done

restore_sysctls() {
  # Writing the twin that was set restores both (the kernel zeroes the other one).
  if [ "${SAVED[dirty_bytes]}" != 0 ]; then
    echo "${SAVED[dirty_bytes]}" > /proc/sys/vm/dirty_bytes
  else
    echo "${SAVED[dirty_ratio]}" > /proc/sys/vm/dirty_ratio
  fi
  if [ "${SAVED[dirty_background_bytes]}" != 0 ]; then
    echo "${SAVED[dirty_background_bytes]}" > /proc/sys/vm/dirty_background_bytes
  else
    echo "${SAVED[dirty_background_ratio]}" > /proc/sys/vm/dirty_background_ratio
  fi
}

teardown_run() {
  if [ -n "$READER" ]; then kill "$READER" 2>/dev/null || true; wait "$READER" 2>/dev/null || true; READER=""; fi
  if [ -d "$INST" ]; then echo 0 > "$INST/tracing_on" 2>/dev/null || true; rmdir "$INST" 2>/dev/null || true; fi
  if [ "$THROTTLED" = 1 ] && [ -n "$LOOP_DEV" ]; then echo "$LOOP_DEV 0" > "$BLKIO" 2>/dev/null || true; THROTTLED=0; fi
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT" || true; fi
  if [ -n "$LOOP" ]; then
    losetup -d "$LOOP" 2>/dev/null || true
    loop_ctl 0x4C81 "${LOOP#/dev/loop}" || true   # LOOP_CTL_REMOVE: the device (and its bdi) goes away
    if [ "$MADE_NODE" = 1 ]; then rm -f "$LOOP"; MADE_NODE=0; fi
    LOOP=""; LOOP_DEV=""
  fi
  rm -f "$IMG"
}

cleanup() {
  set +e
  teardown_run
  restore_sysctls
  rm -rf "$WORK" "$SHM"
  if [ "$MOUNTED_TRACEFS" = 1 ]; then
    # Another tracer (e.g. a probe run) may have started using the mount meanwhile: leave it if so.
    if [ -z "$(ls -A $T/instances 2>/dev/null)" ]; then umount "$T" 2>/dev/null; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -d "$T/instances" ]; then
  mount -t tracefs nodev "$T"
  MOUNTED_TRACEFS=1
fi

# set_dirty bytes|ratio DIRTY BACKGROUND: first the other twin (so the write below is a change and the kernel runs
# writeback_set_ratelimit, which resets global_wb_domain.dirty_limit to the new thresh), then the wanted one.
set_dirty() {
  if [ "$1" = bytes ]; then
    echo 20 > /proc/sys/vm/dirty_ratio
    echo 10 > /proc/sys/vm/dirty_background_ratio
    echo "$2" > /proc/sys/vm/dirty_bytes
    echo "$3" > /proc/sys/vm/dirty_background_bytes
  else
    echo 67108864 > /proc/sys/vm/dirty_bytes
    echo 33554432 > /proc/sys/vm/dirty_background_bytes
    echo "$2" > /proc/sys/vm/dirty_ratio
    echo "$3" > /proc/sys/vm/dirty_background_ratio
  fi
}

sysctl_line() {
  for k in dirty_bytes dirty_ratio dirty_background_bytes dirty_background_ratio dirty_expire_centisecs \
           dirty_writeback_centisecs; do
    printf 'vm.%s=%s ' "$k" "$(cat /proc/sys/vm/$k)"
  done
  echo
}

# loop_ctl REQUEST N: an ioctl on /dev/loop-control (LOOP_CTL_ADD 0x4C80, LOOP_CTL_REMOVE 0x4C81).
loop_ctl() {
  python3 -c 'import fcntl, os, sys; fd = os.open("/dev/loop-control", os.O_RDWR); fcntl.ioctl(fd, int(sys.argv[1], 16), int(sys.argv[2]))' "$1" "$2"
}

setup_fs() {
  mkdir -p "$MNT"
  truncate -s 8G "$IMG"
  # A loop device made for this run: its bdi starts from the kernel's initial state (bandwidth and ratelimit
  # INIT_BW, no writeout completions), where a reused loop0 would carry the last user's estimates.
  local n=200
  while [ -e "/sys/block/loop$n" ]; do n=$((n + 1)); done
  loop_ctl 0x4C80 "$n"
  LOOP=/dev/loop$n
  udevadm settle 2>/dev/null || true
  if [ ! -b "$LOOP" ]; then mknod "$LOOP" b "$(cut -d: -f1 /sys/block/loop$n/dev)" "$(cut -d: -f2 /sys/block/loop$n/dev)"; MADE_NODE=1; fi
  losetup --direct-io=on "$LOOP" "$IMG"
  LOOP_DEV=$(lsblk -dno MAJ:MIN "$LOOP" | tr -d ' ')
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
  mount "$LOOP" "$MNT"
  sync
}

start_trace() {
  mkdir "$INST"
  echo 0 > "$INST/tracing_on"
  echo 32768 > "$INST/buffer_size_kb"
  for e in balance_dirty_pages bdi_dirty_ratelimit global_dirty_state; do
    echo 1 > "$INST/events/writeback/$e/enable"
  done
  cat "$INST/trace_pipe" > "$SHM/raw.txt" &
  READER=$!
  echo 1 > "$INST/tracing_on"
}

stop_trace() {
  echo 0 > "$INST/tracing_on"
  sleep 1
  kill "$READER" 2>/dev/null || true
  wait "$READER" 2>/dev/null || true
  READER=""
}

# writer NAME COUNT_MIB [PREFIX...]: one dd, its pid appended to $WORK/pids.
writer() {
  local name=$1 count=$2
  shift 2
  # exec keeps the pid: $! is the writer's own pid (chrt execs dd too).
  ( exec "$@" dd if=/dev/zero of="$MNT/$name" bs=1M count="$count" status=none ) &
  echo $! >> "$WORK/pids"
}

# finish RUN MODE DIRTY BG NOTE: keeps the writers' events (dd processes), trimmed, and the run's metadata.
finish() {
  local run=$1
  local pids total writers
  pids=$(paste -sd'|' "$WORK/pids")
  total=$(wc -l < "$SHM/raw.txt")
  # Keep the writers' own events, and every task's bdi_dirty_ratelimit: another task's bandwidth update also moves
  # the global domain's dirty_limit and its time stamp. Other tasks' global_dirty_state and balance_dirty_pages
  # (the flusher's, another writer's on another disk) are left out and only counted below.
  grep -E "^ *dd-($pids) |: bdi_dirty_ratelimit: " "$SHM/raw.txt" | sed 's/^ *//' > "$SHM/writers.txt" || true
  writers=$(wc -l < "$SHM/writers.txt")
  head -n "$MAX_LINES" "$SHM/writers.txt" > "$HERE/$run.txt"
  {
    echo "# pcsim dirty-throttling vectors: $run"
    echo "kernel=$(uname -r)"
    echo "hz=$(zcat /proc/config.gz 2>/dev/null | sed -n 's/^CONFIG_HZ=//p')"
    echo "cpus=$(nproc)"
    echo "bdi=$LOOP_DEV"
    echo "writer_pids=$(paste -sd' ' "$WORK/pids")"
    echo "note=$2"
    echo "rt_writer=$([ "$run" = bytes_rt ] && echo 1 || echo 0)"
    echo "loop_$(cat "$WORK/throttle") (blkio.throttle.write_bps_device, root cgroup)"
    echo "events_total=$total events_writers=$writers kept=$(wc -l < "$HERE/$run.txt")"
    echo "other_tasks_bdp_and_bdi_events=$(grep -E ': (balance_dirty_pages|bdi_dirty_ratelimit):' "$SHM/raw.txt" \
      | grep -cvE "^ *dd-($pids) " || true) (the most frequent, as count event task bdi:)"
    grep -E ': (balance_dirty_pages|bdi_dirty_ratelimit):' "$SHM/raw.txt" | grep -vE "^ *dd-($pids) " \
      | sed -E 's/^ *(.*)-[0-9]+ +\[[0-9]+\].*: (balance_dirty_pages|bdi_dirty_ratelimit): bdi ([0-9]+:[0-9]+):.*/\2 \1 \3/' \
      | sort | uniq -c | sort -rn | head -n 12 | sed 's/^/#  /' || true
    echo "sysctl_start=$3"
    echo "sysctl_end=$(sysctl_line)"
    echo "## /proc/meminfo (start)"
    cat "$WORK/meminfo"
    echo "## /proc/vmstat (start)"
    grep -E '^nr_(free_pages|zone_inactive_file|zone_active_file|inactive_file|active_file|dirty|writeback|dirty_threshold|dirty_background_threshold) ' "$WORK/vmstat"
    echo "## /proc/zoneinfo (start)"
    grep -E '^Node|^ +(pages free|min|low|high|managed|protection)' "$WORK/zoneinfo" | grep -vE 'high_(min|max)|^ +high: '
  } > "$HERE/$run.meta"
}

# run NAME MODE DIRTY BG NOTE WRITERS...
run() {
  local name=$1 mode=$2 dirty=$3 bg=$4 note=$5
  echo "capture: $name" >&2
  setup_fs
  set_dirty "$mode" "$dirty" "$bg"
  local start
  start=$(sysctl_line)
  : > "$WORK/pids"
  cat /proc/meminfo > "$WORK/meminfo"
  cat /proc/vmstat > "$WORK/vmstat"
  cat /proc/zoneinfo > "$WORK/zoneinfo"
  # The loop device (direct I/O to a file on the host disk) writes faster than dd dirties pages, so nothing would
  # be throttled: cap its write bandwidth with a blkio rule in the root cgroup (cgroup v1: the flusher's bios).
  local bps=50331648
  [ "$name" = bytes_slow ] && bps=4194304
  echo "$LOOP_DEV $bps" > "$BLKIO"
  THROTTLED=1
  echo "write_bps=$bps" > "$WORK/throttle"
  start_trace
  case "$name" in
    bytes_1dd|ratio_1dd) writer f 1024 ;;
    bytes_2dd) writer f1 512; writer f2 512 ;;
    bytes_rt) writer f 256 chrt -f 10 ;;
    bytes_slow) writer f 96 ;;
  esac
  wait $(cat "$WORK/pids")
  stop_trace
  if [ "$(sysctl_line)" != "$start" ]; then
    echo "capture.sh: $name: the dirty sysctls changed during the run (another task?); not kept" >&2
    teardown_run
    exit 1
  fi
  finish "$name" "$note" "$start"
  teardown_run
}

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(bytes_1dd bytes_2dd ratio_1dd bytes_rt bytes_slow)
for r in "${runs[@]}"; do
  case "$r" in
    bytes_1dd) run "$r" bytes 67108864 33554432 "one dd of 1 GiB, dirty_bytes 64 MiB, dirty_background_bytes 32 MiB" ;;
    bytes_2dd) run "$r" bytes 67108864 33554432 "two concurrent dd of 512 MiB (two files), dirty_bytes 64 MiB / 32 MiB" ;;
    ratio_1dd) run "$r" ratio 2 1 "one dd of 1 GiB, dirty_ratio 2, dirty_background_ratio 1" ;;
    bytes_rt) run "$r" bytes 67108864 33554432 "one SCHED_FIFO dd (chrt -f 10) of 256 MiB: rt boost of the limits" ;;
    bytes_slow) run "$r" bytes 67108864 33554432 "one dd of 96 MiB, loop device throttled to 4 MiB/s: a low-bandwidth bdi" ;;
    *) echo "capture.sh: unknown run $r" >&2; exit 2 ;;
  esac
done
echo "capture: done; files in $HERE" >&2
