#!/usr/bin/env bash
# The e2e suite (`npm run test:e2e`): SLIPWAY_E2E_CONCURRENCY files at a time (default 2; a 2-core machine under more
# than two e2e files fails health checks). Worker 1 starts with the files that take the three-node swarm lab
# (test/e2e/swarm-*.test.ts, one after the other: each takes the lab exclusively, so side by side one would only wait
# for the other), then joins the others on the rest of the files, longest first by the times the last run on this
# machine recorded (~/.cache/slipway/e2e-times; without them, test/e2e/times.txt: the times of a run kept in the repo).
# Each file is its own `node --test` run; its output is printed whole when it ends (no interleaving), and a table of
# every file's wall time and counts closes the run, so a slow CI run says where its time went.
# Usage: bash tools/e2e.sh [FILE…]   (default: every test/e2e/*.test.ts)
set -uo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY="${SLIPWAY_E2E_CONCURRENCY:-2}"
[[ "$CONCURRENCY" =~ ^[1-9][0-9]*$ ]] || { echo "tools/e2e.sh: SLIPWAY_E2E_CONCURRENCY must be a positive number, got '$CONCURRENCY'" >&2; exit 2; }
DIGEST_LINES="${SLIPWAY_E2E_DIGEST_LINES:-80}"
[[ "$DIGEST_LINES" =~ ^[0-9]+$ ]] || { echo "tools/e2e.sh: SLIPWAY_E2E_DIGEST_LINES must be a number, got '$DIGEST_LINES'" >&2; exit 2; }
if [ $# -gt 0 ]; then FILES=("$@"); else FILES=(test/e2e/*.test.ts); fi
SWARM=() HOST=()
for f in "${FILES[@]}"; do
  [ -f "$f" ] || { echo "tools/e2e.sh: no such file: $f" >&2; exit 2; }
  case "$(basename "$f")" in swarm-*) SWARM+=("$f") ;; *) HOST+=("$f") ;; esac
done
TIMES="${XDG_CACHE_HOME:-$HOME/.cache}/slipway/e2e-times"
ORDER="$TIMES"
[ -f "$ORDER" ] || ORDER=test/e2e/times.txt

OUT="$(mktemp -d "${TMPDIR:-/tmp}/slipway-e2e.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
START=$SECONDS

# swarm-deploy first: the longest of the lab's files.
printf '%s\n' "${SWARM[@]}" | awk 'NF && /swarm-deploy/ {print; next} NF {rest[++n] = $0} END {for (i = 1; i <= n; i++) print rest[i]}' >"$OUT/swarm-queue"
# The rest, longest first by the last recorded times (unknown files first, then alphabetical).
printf '%s\n' "${HOST[@]}" | awk -v times="$ORDER" 'BEGIN {while ((getline line < times) > 0) {split(line, f, " "); t[f[2]] = f[1]}}
  NF {print ($0 in t ? t[$0] : 999999), $0}' | sort -k1,1nr -k2,2 | cut -d' ' -f2- >"$OUT/queue"
touch "$OUT/times"

# Takes the next file of queue $1 (empty when none is left).
take() {
  local q=$1 f
  {
    flock 7
    f="$(head -n 1 "$q")"
    [ -n "$f" ] && sed -i 1d "$q"
  } 7>"$q.lock"
  printf '%s' "$f"
}

# One file: run it, keep its output, print it whole under a lock, record "<seconds> <rc> <pass> <fail> <file>".
run_file() {
  local f=$1 key t0 rc pass fail
  key="$(basename "$f" .test.ts)"
  t0=$SECONDS
  node --import tsx --test --test-reporter=spec "$f" >"$OUT/$key.log" 2>&1
  rc=$?
  pass="$(grep -oP '^ℹ pass \K\d+' "$OUT/$key.log" | tail -1)"
  fail="$(grep -oP '^ℹ fail \K\d+' "$OUT/$key.log" | tail -1)"
  {
    flock 8
    printf '\n=== %s (%ds, exit %d) ===\n' "$f" "$((SECONDS - t0))" "$rc"
    cat "$OUT/$key.log"
    echo "$((SECONDS - t0)) $rc ${pass:-?} ${fail:-?} $f" >>"$OUT/times"
  } 8>"$OUT/print.lock"
}

worker() {
  local f
  if [ "$1" = 1 ]; then while f="$(take "$OUT/swarm-queue")" && [ -n "$f" ]; do run_file "$f"; done; fi
  while f="$(take "$OUT/queue")" && [ -n "$f" ]; do run_file "$f"; done
}

echo "[e2e] ${#FILES[@]} file(s), ${CONCURRENCY} at a time: the swarm lab's ${#SWARM[@]} first in worker 1, then the other ${#HOST[@]}"
pids=()
for w in $(seq 1 "$CONCURRENCY"); do worker "$w" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

echo
echo "[e2e] wall time per file (s), exit, tests passed, failed:"
sort -rn "$OUT/times" | awk '{printf "  %5d  exit %-3s pass %-3s fail %-3s %s\n", $1, $2, $3, $4, $5}'
files=$(wc -l <"$OUT/times")
failed=$(awk '$2 != 0' "$OUT/times" | wc -l)
echo "[e2e] ${files} file(s) in $((SECONDS - START))s; ${failed} failed"
# The failures again, last: a CI whose log is read from its end shows why, not only which (node's own summary of
# each failed file, the lines from "✖ failing tests:" on, at most SLIPWAY_E2E_DIGEST_LINES each).
awk '$2 != 0 {print $5}' "$OUT/times" | while read -r f; do
  echo "[e2e] why ${f} failed:"
  sed -n '/^✖ failing tests:/,$p' "$OUT/$(basename "$f" .test.ts).log" | grep -v '^ℹ ' | head -n "$DIGEST_LINES" | sed 's/^/    /'
done
# Keep the times for the next run's order (merged with older ones for files this run did not run).
mkdir -p "$(dirname "$TIMES")"
{ awk '{print $1, $5}' "$OUT/times"; if [ -f "$TIMES" ]; then cat "$TIMES"; fi; } | awk '!seen[$2]++' >"$TIMES.new" && mv "$TIMES.new" "$TIMES"
[ "$files" -eq "${#FILES[@]}" ] || { echo "[e2e] only ${files} of ${#FILES[@]} file(s) reported"; exit 1; }
[ "$failed" -eq 0 ]
