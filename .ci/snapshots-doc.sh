#!/usr/bin/env bash
# Follows docs/SNAPSHOTS.md literally in a new crate under a temporary directory: runs its `sh` blocks in order and
# writes each `rust` block to the file the text names just before it (`tests/NAME.rs`), with PCSIM set to this
# checkout. Fails when any step fails. The temporary directory is removed on every exit path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
doc="$repo/docs/SNAPSHOTS.md"
work=$(mktemp -d "${TMPDIR:-/tmp}/pcsim-snapshots-doc.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PCSIM="$repo"
# The new crate builds pcsim again; share this checkout's target directory for its dependencies.
export CARGO_TARGET_DIR="$repo/target/snapshots-doc"
cd "$work"
block="" lang="" file="" n=0
while IFS= read -r line || [ -n "$line" ]; do
  if [ -z "$lang" ]; then
    case "$line" in
      '```sh') lang=sh block="" ;;
      '```rust') lang=rust block="" ;;
      *'`tests/'*'.rs`'*) file=$(printf '%s\n' "$line" | sed -E 's/.*`(tests\/[A-Za-z0-9_]+\.rs)`.*/\1/') ;;
    esac
    continue
  fi
  if [ "$line" = '```' ]; then
    n=$((n + 1))
    if [ "$lang" = sh ]; then
      echo "+ [docs/SNAPSHOTS.md block $n]"
      printf '%s\n' "$block"
      # Each sh block runs where the previous one left off (the walkthrough cds into the new crate).
      eval "$block"
    else
      [ -n "$file" ] || { echo "block $n: no tests/NAME.rs named before it" >&2; exit 1; }
      mkdir -p "$(dirname "$file")"
      printf '%s\n' "$block" > "$file"
      echo "+ [docs/SNAPSHOTS.md block $n] wrote $file"
    fi
    lang=""
    continue
  fi
  block+="$line"$'\n'
done < "$doc"
# The walkthrough must have produced the snapshots and a passing run.
ls tests/snapshots/*.snap >/dev/null
echo "docs/SNAPSHOTS.md followed: $(ls tests/snapshots | wc -l) snapshots recorded, cargo test passed"
