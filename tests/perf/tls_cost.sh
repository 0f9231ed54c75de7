#!/usr/bin/env bash
# The cost of TLS on the cluster reference workloads: runs
# tests/perf/cluster_reference_workloads.sh three times in one go on fresh 3-node
# clusters — TLS=off, TLS=mtls (node-to-node and gateway-to-node mutual TLS) and
# TLS=mtls+https (also HTTPS on the S3 endpoint) — interleaved ROUNDS times, and
# prints the RESULT lines side by side (ops/s and MiB/s per mode; medians when
# ROUNDS > 1). Small by default so it takes a few minutes:
#   A_COUNT=60 B_COUNT=600 C_SIZE=64MiB ROUNDS=1
# Usage: S3BENCH=/path/to/s3bench.py bash tests/perf/tls_cost.sh
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export A_COUNT=${A_COUNT:-60} B_COUNT=${B_COUNT:-600} C_SIZE=${C_SIZE:-64MiB}
ROUNDS=${ROUNDS:-1}
OUT=$(mktemp)
for r in $(seq 1 "$ROUNDS"); do
  for mode in off mtls mtls+https; do
    echo "== round $r TLS=$mode" >&2
    TLS=$mode bash "$HERE/cluster_reference_workloads.sh" "$r" | grep RESULT | sed "s/^/mode=$mode /" >> "$OUT"
  done
done
python3 - "$OUT" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    rows[(f["op"], f["size"], f["mode"])].append((float(f["ops_s"]), float(f["mb_s"]), float(f["p50_ms"])))
modes = ["off", "mtls", "mtls+https"]
cases = list(dict.fromkeys((op, size) for op, size, _ in rows))
print(f"{'op':4} {'size':>9} | " + " | ".join(f"{m:>22}" for m in modes) + " | mtls vs off | +https vs off")
for op, size in cases:
    cells, base = [], None
    vals = {}
    for m in modes:
        r = rows.get((op, size, m))
        if not r:
            cells.append(f"{'-':>22}"); continue
        ops = statistics.median(x[0] for x in r); mb = statistics.median(x[1] for x in r)
        p50 = statistics.median(x[2] for x in r)
        vals[m] = mb
        cells.append(f"{ops:7.1f}/s {mb:7.1f}MiB/s p50 {p50:6.1f}")
    rel = lambda m: f"{(vals[m] / vals['off'] - 1) * 100:+6.1f}%" if m in vals and vals.get('off') else "-"
    print(f"{op:4} {size:>9} | " + " | ".join(cells) + f" | {rel('mtls'):>11} | {rel('mtls+https'):>12}")
PY
rm -f "$OUT"
