#!/usr/bin/env bash
# One run of the six reference workloads (the neutral client s3bench.py, given by $S3BENCH; see docs/perf-reference.md) against a fresh
# 3-node cluster (replication 3, 8 placement groups) on loopback, through one gateway.
# Usage: bash tests/perf/cluster_reference_workloads.sh RUN   (needs boto3 and the aws CLI)
# Prints one RESULT line per workload and the peak RSS (VmHWM) of every process.
set -u
RUN=$1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/release/cairn"
# The neutral client s3bench.py is not part of this repository (docs/perf-reference.md).
S3BENCH="${S3BENCH:-}"
[ -f "$S3BENCH" ] || { echo "set S3BENCH to the path of s3bench.py (docs/perf-reference.md)" >&2; exit 2; }
D=$(mktemp -d)
cat > $D/cluster.toml <<EOT
name = "bench"
replication = 3
placement_groups = 8
secret = "bench-secret-0123456789abcdef"
[s3]
access_key = "bk"
secret_key = "bksecret"
EOT
for i in 1 2 3; do
  printf '[[node]]\nid = %s\naddress = "127.0.0.1:%s"\ndata_dir = "n%s"\ncapacity = "20GiB"\n' \
    $i $((7700 + i)) $i >> $D/cluster.toml
done
PIDS=()
for i in 1 2 3; do
  RUST_LOG=warn $BIN node --config $D/cluster.toml --id $i > $D/node$i.log 2>&1 & PIDS+=($!)
done
RUST_LOG=warn $BIN gateway --config $D/cluster.toml --listen 127.0.0.1:9710 > $D/gw.log 2>&1 & PIDS+=($!)
sleep 5
export S3_ENDPOINT=http://127.0.0.1:9710 S3_KEY=bk S3_SECRET=bksecret S3_BUCKET=bench S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=bk AWS_SECRET_ACCESS_KEY=bksecret aws --endpoint-url $S3_ENDPOINT s3 mb s3://bench >/dev/null
for w in "put --size 1MiB --count 200 --concurrency 8 --prefix a/r$RUN" \
  "get --size 1MiB --count 200 --concurrency 8 --prefix a/r$RUN" \
  "put --size 4KiB --count 2000 --concurrency 16 --prefix b/r$RUN" \
  "get --size 4KiB --count 2000 --concurrency 16 --prefix b/r$RUN" \
  "put --size 256MiB --count 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN" \
  "get --size 256MiB --count 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN"; do
  python3 "$S3BENCH" --op $w 2>&1 | grep RESULT
done
for p in "${PIDS[@]}"; do echo "pid $p $(grep VmHWM /proc/$p/status)"; done
kill "${PIDS[@]}"; wait 2>/dev/null; rm -rf $D
