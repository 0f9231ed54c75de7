#!/usr/bin/env bash
# One run of the six reference workloads with one client against a fresh cairn server.
# Usage: bash tests/perf/reference_workloads.sh s3bench|cairn RUN   (needs boto3, aws CLI)
# Prints one result line per workload and the server peak RSS (VmHWM).
set -u
CLIENT=$1; RUN=$2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/release/cairn"
S3BENCH="${S3BENCH:-$ROOT/../shared/perf/s3bench.py}"
D=$(mktemp -d)
CAIRN_ACCESS_KEY=bk CAIRN_SECRET_KEY=bksecret $BIN server --listen 127.0.0.1:9700 --data $D/d > $D/log 2>&1 &
PID=$!; sleep 1
export S3_ENDPOINT=http://127.0.0.1:9700 S3_KEY=bk S3_SECRET=bksecret S3_BUCKET=bench S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=bk AWS_SECRET_ACCESS_KEY=bksecret aws --endpoint-url $S3_ENDPOINT s3 mb s3://bench >/dev/null
W=("put --size 1MiB XX 200 --concurrency 8 --prefix a/r$RUN" "get --size 1MiB XX 200 --concurrency 8 --prefix a/r$RUN"
   "put --size 4KiB XX 2000 --concurrency 16 --prefix b/r$RUN" "get --size 4KiB XX 2000 --concurrency 16 --prefix b/r$RUN"
   "put --size 256MiB XX 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN" "get --size 256MiB XX 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN")
for w in "${W[@]}"; do
  if [ $CLIENT = s3bench ]; then
    python3 "$S3BENCH" --op ${w//XX/--count} 2>&1 | grep RESULT
  else
    w2=${w//XX/--objects}; [[ $w2 == put*256MiB* ]] && w2=${w2/put/multipart}
    $BIN bench --bucket bench --json --op $w2 2>/dev/null
  fi
done
echo "RSS $(grep VmHWM /proc/$PID/status)"
kill $PID; rm -rf $D
