#!/usr/bin/env bash
# One run of the six reference workloads with one client against a fresh cairn server.
# Usage: bash tests/perf/reference_workloads.sh s3bench|cairn RUN   (needs boto3, aws CLI)
# Prints one result line per workload (for s3bench.py also the client's CPU seconds,
# user+sys), each followed by what the server spent on it
# (CPU seconds, user+sys, from /proc) and its peak resident memory during it (VmHWM,
# reset before each workload through /proc/PID/clear_refs), then the server's peak
# RSS over the whole run.
# Env: SERVER_ENV="VAR=value ..." extra environment for the server.
#      VERSIONED=1 runs the workloads on a bucket with versioning enabled (every PUT a
#      new version), for the side-by-side cost of versioning.
set -u
CLIENT=$1; RUN=$2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
# The neutral client s3bench.py is not part of this repository (docs/perf-reference.md).
S3BENCH="${S3BENCH:-}"
if [ "${1:-}" = s3bench ] && [ ! -f "$S3BENCH" ]; then
  echo "set S3BENCH to the path of s3bench.py (docs/perf-reference.md)" >&2; exit 2
fi
D=$(mktemp -d)
# shellcheck disable=SC2086
CAIRN_ACCESS_KEY=bk CAIRN_SECRET_KEY=bksecret env ${SERVER_ENV:-} \
  $BIN server --listen 127.0.0.1:9700 --data $D/d > $D/log 2>&1 &
PID=$!; sleep 1
export S3_ENDPOINT=http://127.0.0.1:9700 S3_KEY=bk S3_SECRET=bksecret S3_BUCKET=bench S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=bk AWS_SECRET_ACCESS_KEY=bksecret aws --endpoint-url $S3_ENDPOINT s3 mb s3://bench >/dev/null
if [ "${VERSIONED:-0}" = 1 ]; then
  AWS_ACCESS_KEY_ID=bk AWS_SECRET_ACCESS_KEY=bksecret aws --endpoint-url $S3_ENDPOINT s3api \
    put-bucket-versioning --bucket bench --versioning-configuration Status=Enabled
fi
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
W=("put --size 1MiB XX 200 --concurrency 8 --prefix a/r$RUN" "get --size 1MiB XX 200 --concurrency 8 --prefix a/r$RUN"
   "put --size 4KiB XX 2000 --concurrency 16 --prefix b/r$RUN" "get --size 4KiB XX 2000 --concurrency 16 --prefix b/r$RUN"
   "put --size 256MiB XX 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN" "get --size 256MiB XX 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN")
peak=0
for w in "${W[@]}"; do
  echo 5 > /proc/$PID/clear_refs  # resets VmHWM to the current RSS
  before=$(cpu_ticks)
  if [ "$CLIENT" = s3bench ]; then
    TIMEFORMAT="CLIENT cpu_s=%3U+%3S"  # bash's time: the client's own user+sys CPU
    { time python3 "$S3BENCH" --op ${w//XX/--count} 2>&1 | grep RESULT; } 2>&1
  else
    w2=${w//XX/--objects}; [[ $w2 == put*256MiB* ]] && w2=${w2/put/multipart}
    $BIN bench --bucket bench --json --op $w2 2>/dev/null
  fi
  after=$(cpu_ticks)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
  [ "$hwm" -gt "$peak" ] && peak=$hwm
  echo "SERVER cpu_s=$(awk -v t=$((after - before)) -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz}') peak_rss_mib=$((hwm / 1024))"
done
echo "PEAK_RSS_MIB $((peak / 1024))"
kill $PID; rm -rf $D
