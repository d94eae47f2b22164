#!/usr/bin/env bash
# Captures the sample traces of traces/replay/ on this host (root), exactly as committed:
#   - strace of real programs (cp, tar, sqlite3, sha256sum) on a scratch ext4 filesystem built the way the probe
#     builds its own (a sparse file on a direct-I/O loop device, mkfs.ext4 -D with no lazy init, mounted with
#     no_prefetch_block_bitmaps), each program run with a cold cache (the filesystem is unmounted and mounted again
#     before each);
#   - an fio iolog written by fio itself (--write_iolog) for a buffered random-read job on the same filesystem;
#   - a binary blktrace of a probe run of scenarios/validation/seq_read_64k.ron (pcsim probe --blktrace);
# then the probe's replays of the file-level traces (pcsim probe --trace, 3 runs each), which
# tests/replay_roundtrip.rs compares with the model (pcsim validate --trace ... --probe-dir, no root needed).
#
# Usage (root, from the repository root): bash traces/replay/capture.sh
# Needs: strace, fio, sqlite3, tar, coreutils, e2fsprogs, util-linux (apt-get install -y strace fio sqlite3).
# Honours CARGO_TARGET_DIR (default ./target). Leaves nothing behind (the trap undoes the mount and the loop device).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
out=traces/replay
cargo build --release --quiet
pcsim="$target/release/pcsim"

# The capture filesystem: its path is in the traces (strace -y), so the import's --under names it.
work=/var/tmp/pcsim-replay-capture
mnt=$work/mnt
loopdev=
cleanup() {
  set +e
  mountpoint -q "$mnt" && unmount
  [ -n "$loopdev" ] && losetup -d "$loopdev"
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$mnt"
truncate -s 512M "$work/backing"
loopdev=$(losetup --find --show --direct-io=on "$work/backing")
mkfs.ext4 -q -F -D -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev"
mount -o no_prefetch_block_bitmaps "$loopdev" "$mnt"
# umount retried: a process that wrote the inputs may take a moment to exit (EBUSY).
unmount() { for _ in $(seq 50); do umount "$mnt" 2>/dev/null && return; sleep 0.1; done; umount "$mnt"; }
remount() { unmount; mount -o no_prefetch_block_bitmaps "$loopdev" "$mnt"; }

# Inputs, from a fixed seed: a 32 MiB file, a directory of 12 files (4 KiB to 2 MiB), an 8 MiB SQLite database.
# (openssl ends on SIGPIPE when head has its bytes: not an error here.)
seeded() { openssl enc -aes-128-ctr -nosalt -pass pass:"$1" -pbkdf2 < /dev/zero 2>/dev/null | head -c "$2" || true; }
seeded big 33554432 > "$mnt/big"
mkdir "$mnt/src"
for i in $(seq 1 12); do seeded "f$i" $(( 4096 << (i % 10) )) > "$mnt/src/f$i"; done
sqlite3 "$mnt/db.sqlite" "PRAGMA page_size=4096; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 7000)
  INSERT INTO t SELECT x, randomblob(1000) FROM c;"
sync

trace() { # NAME COMMAND...: strace of COMMAND with a cold cache into $out/NAME.strace
  local name=$1; shift
  remount
  (cd "$mnt" && strace -f -tt -T -y -o "$OLDPWD/$out/$name.strace" "$@")
}
trace cp cp "$mnt/big" "$mnt/big.copy"
trace tar tar cf "$mnt/src.tar" -C "$mnt" src
trace sqlite3 sqlite3 "$mnt/db.sqlite" "SELECT count(*), sum(length(v)) FROM t;"
trace sha256sum sha256sum "$mnt/big" "$mnt/src.tar"

# fio: a buffered random-read job (direct=0), 2000 reads of 4 KiB over a 16 MiB file, its iolog written by fio.
remount
fio --name=randread --filename="$mnt/fio.dat" --size=16m --rw=randread --bs=4k --ioengine=psync --direct=0 \
  --number_ios=2000 --randseed=42 --write_iolog="$out/fio_randread.iolog" --output=/dev/null

unmount
losetup -d "$loopdev"
loopdev=

# A binary blktrace of a probe run of a read-side validation scenario.
rm -rf "$work/probe-bt" "$out/blktrace"
"$pcsim" probe scenarios/validation/seq_read_64k.ron --out "$work/probe-bt" --blktrace
mkdir -p "$out/blktrace"
cp "$work"/probe-bt/blktrace/seq_read_64k.blktrace.* "$out/blktrace/"

# The probe's replays of the file-level traces, 3 runs each (the model is compared with them by the tests).
for name in cp tar sqlite3 sha256sum; do
  rm -rf "$out/$name"
  "$pcsim" probe --trace "strace:$out/$name.strace" --under "$mnt" --out "$out/$name" --runs 3
done
rm -rf "$out/fio_randread"
"$pcsim" probe --trace "iolog:$out/fio_randread.iolog" --buffered --under "$mnt" --out "$out/fio_randread" --runs 3
for d in cp tar sqlite3 sha256sum fio_randread; do
  rm -rf "$out/$d"/run-*/ops "$out/$d"/run-*/raw_trace.txt
  gzip -9n "$out/$d"/run-*/events.log
done
