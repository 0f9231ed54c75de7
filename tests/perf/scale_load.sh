#!/usr/bin/env bash
# Costs as the store grows: writes TOTAL 1 KiB objects (64 in flight, `cairn bench`) into
# a fresh embedded server in rounds of ROUND, and after each round prints one line:
# objects stored, the round's PUT ops/s, server RSS, data dir, of which snapshots, and
# catalog.redb. Then the restart time to a healthy /health, and the time of delimiter
# listings (curl's time_total, p50/p99 over PAGES requests) at the bucket root (one
# common prefix over every key), one level down (one per round) and a 1,000-key page.
#
# Usage: bash tests/perf/scale_load.sh TOTAL [ROUND] [WORKDIR]
#   e.g. bash tests/perf/scale_load.sh 10000000 1000000 /var/tmp   (the issue's 10 M)
#        bash tests/perf/scale_load.sh 20000 10000                  (a small run, as CI does)
# Needs curl (with --aws-sigv4). Exit status non-zero if a round or a listing failed.
set -u
TOTAL=${1:?usage: scale_load.sh TOTAL [ROUND] [WORKDIR]}
ROUND=${2:-$((TOTAL / 10))}
[ "$ROUND" -ge 1 ] || ROUND=$TOTAL
PAGES=${PAGES:-200}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
W="${3:-${TMPDIR:-/tmp}}"
D=$(mktemp -d -p "$W" cairn-scale.XXXXXX)
PORT=${PORT:-9460}
E=http://127.0.0.1:$PORT
export CAIRN_ACCESS_KEY=scalekey CAIRN_SECRET_KEY=scalesecret-0123456789
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT

start() {
  "$BIN" server --listen 127.0.0.1:$PORT --data "$D/data" >>"$D/log" 2>&1 &
  PID=$!
  local t0=$(date +%s.%N)
  until curl -sf "$E/health" >/dev/null 2>&1; do
    kill -0 $PID 2>/dev/null || { echo "server exited:"; tail -20 "$D/log"; exit 1; }
    sleep 0.05
  done
  STARTED_IN=$(echo "$(date +%s.%N) - $t0" | bc)
}
mib() { echo $(( $1 / 1048576 )); }
size_of() { du -sb "$1" 2>/dev/null | cut -f1; }

start
printf '%-10s %10s %9s %10s %10s %12s\n' objects "PUT ops/s" "RSS MiB" "data MiB" "snap MiB" "catalog MiB"
stored=0 round=0 status=0
while [ "$stored" -lt "$TOTAL" ]; do
  n=$ROUND; [ $((stored + n)) -gt "$TOTAL" ] && n=$((TOTAL - stored))
  out=$("$BIN" bench --endpoint "$E" --access-key scalekey --secret-key scalesecret-0123456789 \
    --bucket scale --op put --size 1KiB --objects "$n" --concurrency 64 \
    --prefix "scale/r$round" --json 2>/dev/null) || { echo "round $round failed"; status=1; break; }
  ops=$(printf '%s' "$out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ops_s"]))')
  stored=$((stored + n)); round=$((round + 1))
  rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$PID/status)
  printf '%-10s %10s %9s %10s %10s %12s\n' "$stored" "$ops" "$rss" \
    "$(mib "$(size_of "$D/data")")" "$(mib "$(size_of "$D/data/snapshots")")" \
    "$(mib "$(size_of "$D/data/catalog.redb")")"
done
echo "payload $(mib $((stored * 1024))) MiB; peak RSS $(awk '/VmHWM/ {print int($2/1024)}' /proc/$PID/status) MiB"

kill -TERM $PID; wait $PID 2>/dev/null
start
echo "restart to healthy: $STARTED_IN s (RSS after restart $(awk '/VmRSS/ {print int($2/1024)}' /proc/$PID/status) MiB)"

# Delimiter listings: p50/p99 of curl's total time over PAGES requests.
listing() { # label query
  local times
  times=$(for _ in $(seq "$PAGES"); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --aws-sigv4 "aws:amz:us-east-1:s3" \
      --user scalekey:scalesecret-0123456789 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$E/scale?$2"
  done)
  if printf '%s\n' "$times" | grep -qv '^200 '; then
    echo "$1: a listing failed ($(printf '%s\n' "$times" | grep -v '^200 ' | head -1))"; status=1; return
  fi
  printf '%s\n' "$times" | cut -d' ' -f2 | sort -n | awk -v label="$1" '
    { t[NR] = $1 }
    END {
      a = int(NR * 0.5); if (a < 1) a = 1
      b = int(NR * 0.99); if (b < 1) b = 1
      printf "%s: p50 %.2f ms, p99 %.2f ms (%d pages)\n", label, t[a] * 1000, t[b] * 1000, NR
    }'
}
# (Parameters in sorted order: curl's --aws-sigv4 signs the query as it is written.)
listing "root, delimiter / (one common prefix over $stored keys)" "delimiter=%2F&list-type=2"
listing "scale/, delimiter / ($round common prefixes)" "delimiter=%2F&list-type=2&prefix=scale%2F"
listing "scale/r0/, delimiter /, 1000 keys" \
  "delimiter=%2F&list-type=2&max-keys=1000&prefix=scale%2Fr0%2F"
exit $status
