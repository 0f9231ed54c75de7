#!/usr/bin/env bash
# Authorisation cost of a bucket policy: 4 KiB GETs (`cairn bench --op get`) against a
# fresh embedded server, alternating rounds without a policy (`--policy none`) and
# with a 20-statement policy (`--policy FILE`: Allow/Deny statements with wildcards,
# NotAction, NotResource, conditions on aws:SourceIp, aws:Referer, aws:UserAgent,
# aws:CurrentTime, s3:prefix, s3:ExistingObjectTag...; one Deny applies to GETs but
# its condition does not hold, so every GET evaluates conditions). Prints each
# round's ops/s and the median of each side, and the difference. The order of the
# two sides alternates from round to round.
#
# Usage: bash tests/perf/policy_cost.sh [ROUNDS] [SECONDS-PER-ROUND]   (default 5 3)
set -u
ROUNDS=${1:-5}
SECS=${2:-3}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
D=$(mktemp -d -p "${TMPDIR:-/tmp}" cairn-policy-cost.XXXXXX)
PORT=${PORT:-9470}
E=http://127.0.0.1:$PORT
AK=policykey SK=policysecret-0123456789
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
CAIRN_ACCESS_KEY=$AK CAIRN_SECRET_KEY=$SK "$BIN" server --listen 127.0.0.1:$PORT --data "$D/data" >>"$D/log" 2>&1 &
PID=$!
until curl -sf "$E/health" >/dev/null 2>&1; do
  kill -0 $PID 2>/dev/null || { echo "server exited:"; tail -20 "$D/log"; exit 1; }
  sleep 0.05
done

B=bench
python3 - "$D/policy.json" "$B" <<'PY'
import json, sys
path, b = sys.argv[1], sys.argv[2]
arn = f"arn:aws:s3:::{b}"
st = []
for i in range(8):
    st.append({"Sid": f"partner{i}", "Effect": "Allow",
               "Principal": {"AWS": f"arn:aws:iam::000000000000:user/partner{i}"},
               "Action": ["s3:GetObject", "s3:ListBucket"],
               "Resource": [f"{arn}/exports/p{i}/*", arn],
               "Condition": {"StringLike": {"s3:prefix": [f"exports/p{i}/*"]}}})
for i in range(4):
    st.append({"Sid": f"nowrite{i}", "Effect": "Deny", "Principal": "*",
               "Action": ["s3:PutObject", "s3:DeleteObject*"],
               "Resource": f"{arn}/frozen{i}/*"})
st.append({"Sid": "hotlink", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
           "Resource": f"{arn}/*",
           "Condition": {"StringLike": {"aws:Referer": ["https://evil.example/*"]}}})
st.append({"Sid": "net", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
           "Resource": [arn, f"{arn}/*"],
           "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]}}})
st.append({"Sid": "bots", "Effect": "Deny", "Principal": "*", "Action": "s3:Get*",
           "Resource": f"{arn}/*", "Condition": {"StringLike": {"aws:UserAgent": ["*badbot*"]}}})
st.append({"Sid": "public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
           "Resource": f"{arn}/public/*"})
st.append({"Sid": "tagged", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
           "Resource": f"{arn}/shared/*",
           "Condition": {"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}})
st.append({"Sid": "window", "Effect": "Deny", "Principal": "*", "NotAction": ["s3:Get*", "s3:List*"],
           "Resource": f"{arn}/archive/*",
           "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}})
st.append({"Sid": "tls", "Effect": "Deny", "Principal": "*", "Action": "s3:PutBucket*",
           "Resource": arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
st.append({"Sid": "notres", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:user/admin"},
           "Action": "s3:DeleteBucket", "NotResource": f"{arn}/*"})
assert len(st) == 20
json.dump({"Version": "2012-10-17", "Statement": st}, open(path, "w"))
PY

bench() { # POLICY -> ops/s
  "$BIN" bench --endpoint "$E" --access-key $AK --secret-key $SK --bucket $B --op get \
    --size 4KiB --objects 200 --concurrency 16 --duration "${SECS}s" --policy "$1" --json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ops_s"]))'
}
bench none >/dev/null # populate and warm up
without=() with=()
for r in $(seq 1 "$ROUNDS"); do
  # Odd rounds run without the policy first, even rounds with it first, so a
  # drift of the machine (or a warm-up) does not favour one side.
  if [ $((r % 2)) = 1 ]; then
    a=$(bench none) || exit 1
    b=$(bench "$D/policy.json") || exit 1
  else
    b=$(bench "$D/policy.json") || exit 1
    a=$(bench none) || exit 1
  fi
  without+=("$a"); with+=("$b")
  printf 'round %d: without policy %7s ops/s   with 20-statement policy %7s ops/s\n' "$r" "$a" "$b"
done
python3 - "${without[*]}" "${with[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median without {ma:.0f} ops/s, with {mb:.0f} ops/s: {100 * (ma - mb) / ma:+.1f}% cost")
PY
