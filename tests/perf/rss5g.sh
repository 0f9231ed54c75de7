#!/usr/bin/env bash
# Measures cairn server peak RSS (VmHWM) across a 5 GiB single PUT, a 5 GiB GET and a 5 GiB multipart upload.
set -u
# Usage: bash tests/perf/rss5g.sh [WORKDIR]   (needs ~11 GiB free in WORKDIR; curl, aws)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/release/cairn"
W="${1:-${TMPDIR:-/tmp}}"
D=$(mktemp -d -p "$W")
export CAIRN_ACCESS_KEY=rsskey CAIRN_SECRET_KEY=rsssecret
$BIN server --listen 127.0.0.1:9400 --data $D/data > $D/log 2>&1 &
PID=$!
sleep 1
export AWS_ACCESS_KEY_ID=rsskey AWS_SECRET_ACCESS_KEY=rsssecret AWS_DEFAULT_REGION=us-east-1
E=http://127.0.0.1:9400
aws --endpoint-url $E s3 mb s3://big >/dev/null
[ -f $W/big5g ] || head -c $((5*1024*1024*1024)) /dev/urandom > $W/big5g
hwm() { grep VmHWM /proc/$PID/status; grep VmRSS /proc/$PID/status; }
echo "after start: $(hwm | tr '\n' ' ')"
t=$(date +%s)
curl -s -f --aws-sigv4 "aws:amz:us-east-1:s3" --user rsskey:rsssecret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T $W/big5g $E/big/single -o /dev/null -w "put status %{http_code}\n"
echo "single PUT 5GiB took $(( $(date +%s) - t ))s; $(hwm | tr '\n' ' ')"
t=$(date +%s)
curl -s -f --aws-sigv4 "aws:amz:us-east-1:s3" --user rsskey:rsssecret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" $E/big/single | md5sum
md5sum $W/big5g
echo "GET 5GiB took $(( $(date +%s) - t ))s; $(hwm | tr '\n' ' ')"
t=$(date +%s)
aws --endpoint-url $E s3 cp --only-show-errors $W/big5g s3://big/multi
echo "multipart PUT 5GiB (aws s3 cp) took $(( $(date +%s) - t ))s; $(hwm | tr '\n' ' ')"
kill $PID
rm -rf $D
