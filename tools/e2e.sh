#!/usr/bin/env bash
# The e2e suite (`npm run test:e2e`), in two lanes that share no ports, names or cluster:
#   swarm lane: the files that take the three-node lab (test/e2e/swarm-*.test.ts), one after the other — each takes
#               the lab exclusively (faults), so running them side by side would only make one wait for the other;
#   host lane:  every other file, SLIPWAY_E2E_CONCURRENCY at a time (default 2), beside the swarm lane.
# Each file is its own `node --test` run; its output is printed whole when it ends (no interleaving), and a table of
# every file's wall time and counts closes the run, so a slow CI run says where its time went.
# Usage: bash tools/e2e.sh [FILE…]   (default: every test/e2e/*.test.ts)
set -uo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY="${SLIPWAY_E2E_CONCURRENCY:-2}"
[[ "$CONCURRENCY" =~ ^[1-9][0-9]*$ ]] || { echo "tools/e2e.sh: SLIPWAY_E2E_CONCURRENCY must be a positive number, got '$CONCURRENCY'" >&2; exit 2; }
if [ $# -gt 0 ]; then FILES=("$@"); else FILES=(test/e2e/*.test.ts); fi
SWARM=() HOST=()
for f in "${FILES[@]}"; do
  [ -f "$f" ] || { echo "tools/e2e.sh: no such file: $f" >&2; exit 2; }
  case "$(basename "$f")" in swarm-*) SWARM+=("$f") ;; *) HOST+=("$f") ;; esac
done
# swarm-deploy first: it is the longest of the lane.
mapfile -t SWARM < <(printf '%s\n' "${SWARM[@]}" | awk '/swarm-deploy/ {print; next} {rest[++n]=$0} END {for (i = 1; i <= n; i++) print rest[i]}' | grep . || true)

OUT="$(mktemp -d "${TMPDIR:-/tmp}/slipway-e2e.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
START=$SECONDS

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
  } 8>"$OUT/print.lock"
  echo "$((SECONDS - t0)) $rc ${pass:-?} ${fail:-?} $f" >>"$OUT/times"
}
export -f run_file
export OUT

lane_swarm() { local f; for f in "${SWARM[@]}"; do run_file "$f"; done; }
lane_host() {
  [ ${#HOST[@]} -gt 0 ] || return 0
  printf '%s\0' "${HOST[@]}" | xargs -0 -n1 -P"$CONCURRENCY" bash -c 'run_file "$0"'
}

echo "[e2e] ${#FILES[@]} file(s): swarm lane ${#SWARM[@]} in sequence, host lane ${#HOST[@]} at $CONCURRENCY a time beside it"
lane_swarm & swarm_pid=$!
lane_host
wait "$swarm_pid"

echo
echo "[e2e] wall time per file (s), exit, tests passed, failed:"
sort -rn "$OUT/times" | awk '{printf "  %5d  exit %-3s pass %-3s fail %-3s %s\n", $1, $2, $3, $4, $5}'
files=$(wc -l <"$OUT/times")
failed=$(awk '$2 != 0' "$OUT/times" | wc -l)
echo "[e2e] ${files} file(s) in $((SECONDS - START))s; ${failed} failed"
[ "$files" -eq "${#FILES[@]}" ] || { echo "[e2e] only ${files} of ${#FILES[@]} file(s) reported"; exit 1; }
[ "$failed" -eq 0 ]
