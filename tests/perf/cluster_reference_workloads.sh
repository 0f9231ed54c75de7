#!/usr/bin/env bash
# One run of the six reference workloads (the neutral client s3bench.py, given by $S3BENCH; see docs/perf-reference.md) against a fresh
# 3-node cluster (replication 3, 8 placement groups) on loopback, through one gateway.
# Usage: bash tests/perf/cluster_reference_workloads.sh RUN   (needs boto3 and the aws CLI)
# Prints one RESULT line per workload and the peak RSS (VmHWM) of every process.
# Env: TLS=off (default) | mtls (nodes and gateway talk mutual TLS, `cairn cluster certs`)
#      | mtls+https (and the S3 endpoint serves HTTPS; clients trust the cluster CA);
#      A_COUNT (200), B_COUNT (2000), C_SIZE (256MiB): smaller runs (tests/perf/tls_cost.sh).
#      PORT_BASE (7700): nodes on PORT_BASE+1..3, the gateway on PORT_BASE+10.
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
TLS=${TLS:-off} PORT_BASE=${PORT_BASE:-7700}
[ "$TLS" != off ] && printf '[tls]\nca = "certs/ca.crt"\n' >> $D/cluster.toml
for i in 1 2 3; do
  printf '[[node]]\nid = %s\naddress = "127.0.0.1:%s"\ndata_dir = "n%s"\ncapacity = "20GiB"\n' \
    $i $((PORT_BASE + i)) $i >> $D/cluster.toml
done
SCHEME=http GW_TLS=()
if [ "$TLS" != off ]; then
  $BIN cluster certs --config $D/cluster.toml --out $D/certs >/dev/null || exit 1
fi
if [ "$TLS" = mtls+https ]; then
  # node-1's certificate names 127.0.0.1 and is signed by the cluster CA: good enough here.
  SCHEME=https GW_TLS=(--tls-cert $D/certs/node-1.crt --tls-key $D/certs/node-1.key)
  export AWS_CA_BUNDLE=$D/certs/ca.crt
fi
GW=127.0.0.1:$((PORT_BASE + 10))
PIDS=()
for i in 1 2 3; do
  RUST_LOG=warn $BIN node --config $D/cluster.toml --id $i > $D/node$i.log 2>&1 & PIDS+=($!)
done
RUST_LOG=warn $BIN gateway --config $D/cluster.toml --listen $GW "${GW_TLS[@]}" > $D/gw.log 2>&1 & PIDS+=($!)
sleep 5
export S3_ENDPOINT=$SCHEME://$GW S3_KEY=bk S3_SECRET=bksecret S3_BUCKET=bench S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=bk AWS_SECRET_ACCESS_KEY=bksecret aws --endpoint-url $S3_ENDPOINT s3 mb s3://bench >/dev/null
A=${A_COUNT:-200} B=${B_COUNT:-2000} C=${C_SIZE:-256MiB}
for w in "put --size 1MiB --count $A --concurrency 8 --prefix a/r$RUN" \
  "get --size 1MiB --count $A --concurrency 8 --prefix a/r$RUN" \
  "put --size 4KiB --count $B --concurrency 16 --prefix b/r$RUN" \
  "get --size 4KiB --count $B --concurrency 16 --prefix b/r$RUN" \
  "put --size $C --count 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN" \
  "get --size $C --count 1 --concurrency 1 --part-size 8MiB --part-concurrency 8 --prefix c/r$RUN"; do
  python3 "$S3BENCH" --op $w 2>&1 | grep RESULT
done
for p in "${PIDS[@]}"; do echo "pid $p $(grep VmHWM /proc/$p/status)"; done
kill "${PIDS[@]}"; wait 2>/dev/null; rm -rf $D
