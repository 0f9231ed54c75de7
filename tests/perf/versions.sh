#!/usr/bin/env bash
# Versioning at scale on the embedded server: ROUNDS rounds of PUT of the same KEYS
# keys (1 KiB, inline) into a versioned bucket, so the bucket ends with KEYS x ROUNDS
# versions. After each round it prints the server's RSS (memory must stay flat in the
# number of versions) and the PUT rate; after the first and the last round it pages
# ListObjectVersions (1,000 entries per page, PAGES pages from successive key markers)
# and prints entries/s.
#
# Usage: bash tests/perf/versions.sh [KEYS] [ROUNDS]    (default 10000 10: 100,000 versions)
# Needs: target/release/cairn, the AWS CLI (to enable versioning).
set -euo pipefail
KEYS=${1:-10000}
ROUNDS=${2:-10}
PAGES=${PAGES:-200}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
D=$(mktemp -d)
CAIRN_ACCESS_KEY=vk CAIRN_SECRET_KEY=vksecret $BIN server --listen 127.0.0.1:9710 --data $D/d > $D/log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf $D' EXIT
export S3_ENDPOINT=http://127.0.0.1:9710 S3_KEY=vk S3_SECRET=vksecret
for _ in $(seq 50); do curl -sf $S3_ENDPOINT/health >/dev/null && break; sleep 0.2; done
AWS_ACCESS_KEY_ID=vk AWS_SECRET_ACCESS_KEY=vksecret AWS_DEFAULT_REGION=us-east-1 \
  python3 -m awscli --endpoint-url $S3_ENDPOINT s3 mb s3://vers >/dev/null
AWS_ACCESS_KEY_ID=vk AWS_SECRET_ACCESS_KEY=vksecret AWS_DEFAULT_REGION=us-east-1 \
  python3 -m awscli --endpoint-url $S3_ENDPOINT s3api put-bucket-versioning --bucket vers \
  --versioning-configuration Status=Enabled
rss() { awk '/VmRSS/ {print int($2 / 1024)}' /proc/$PID/status; }
list() {
  # `--objects` pages, each from the key marker of a successive key.
  $BIN bench --bucket vers --prefix v --op list-versions --objects "$PAGES" --concurrency 4 --json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); s=r["wall_s"]; k=r["keys_listed"]; print("LIST entries=%d pages=%d errors=%d seconds=%.2f entries_per_s=%.0f p50_ms=%.1f p99_ms=%.1f" % (k, r["ops"], r["errors"], s, k / s, r["p50_ms"], r["p99_ms"]))'
}
for r in $(seq 1 "$ROUNDS"); do
  out=$($BIN bench --bucket vers --prefix v --op put --size 1KiB --objects "$KEYS" --concurrency 32 --json 2>/dev/null)
  ops=$(echo "$out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ops_s"]))')
  echo "ROUND $r versions=$((r * KEYS)) put_ops_s=$ops server_rss_mib=$(rss)"
  if [ "$r" = 1 ] || [ "$r" = "$ROUNDS" ]; then list; fi
done
