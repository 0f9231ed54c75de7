#!/usr/bin/env bash
# Costs as a 3-node cluster's catalog grows, and a catalog follower's catch-up: starts a
# fresh 3-node cluster (replication 3, 8 PGs) and one gateway on loopback, stops one
# catalog follower (SIGKILL) and writes TOTAL 1 KiB objects (64 in flight, `cairn bench`)
# in rounds of ROUND, printing after each round the round's PUT ops/s and the RSS of every
# running process. Then it times streaming the leader's catalog.redb over a loopback TCP
# connection, starts the follower again while a second `cairn bench` keeps writing, and
# prints how long the follower took to apply the leader's last catalog entry (log or
# snapshot), the writes' slowest request during that time, and every process's peak RSS.
#
# Usage: bash tests/perf/scale_cluster.sh TOTAL [ROUND] [WORKDIR]
#   e.g. bash tests/perf/scale_cluster.sh 2000000 500000 /var/tmp   (the issue's 2 M)
#        bash tests/perf/scale_cluster.sh 20000 10000                (a small run)
# Env: PORT_BASE (7800): nodes on PORT_BASE+1..3, the gateway on PORT_BASE+10.
# Exit status non-zero if a round failed or the follower did not catch up in 10 minutes.
set -u
TOTAL=${1:?usage: scale_cluster.sh TOTAL [ROUND] [WORKDIR]}
ROUND=${2:-$((TOTAL / 4))}
[ "$ROUND" -ge 1 ] || ROUND=$TOTAL
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
W="${3:-${TMPDIR:-/tmp}}"
D=$(mktemp -d -p "$W" cairn-scale-cluster.XXXXXX)
PORT_BASE=${PORT_BASE:-7800}
GW=127.0.0.1:$((PORT_BASE + 10))
E=http://$GW
declare -A PID
trap 'kill -9 "${PID[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT

cat >"$D/cluster.toml" <<EOT
name = "scale"
replication = 3
placement_groups = 8
secret = "scale-secret-0123456789abcdef"
[s3]
access_key = "scalekey"
secret_key = "scalesecret-0123456789"
EOT
for i in 1 2 3; do
  printf '[[node]]\nid = %s\naddress = "127.0.0.1:%s"\ndata_dir = "n%s"\ncapacity = "50GiB"\n' \
    "$i" $((PORT_BASE + i)) "$i" >>"$D/cluster.toml"
done

node_up() { RUST_LOG=warn,cairn_node::raft=info "$BIN" node --config "$D/cluster.toml" --id "$1" >>"$D/node$1.log" 2>&1 & PID[n$1]=$!; }
metric() { # node metric-with-labels → value
  curl -sf "http://127.0.0.1:$((PORT_BASE + $1))/metrics" 2>/dev/null | awk -v m="$2" '$1 == m {print $2}'
}
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status" 2>/dev/null; }
bench() { # objects prefix → JSON report
  "$BIN" bench --endpoint "$E" --access-key scalekey --secret-key scalesecret-0123456789 \
    --bucket scale --op put --size 1KiB --objects "$1" --concurrency 64 --prefix "$2" --json 2>/dev/null
}
field() { python3 -c "import json,sys; print(round(json.load(sys.stdin)[\"$1\"]))"; }

for i in 1 2 3; do node_up "$i"; done
RUST_LOG=warn "$BIN" gateway --config "$D/cluster.toml" --listen "$GW" >"$D/gw.log" 2>&1 & PID[gw]=$!
leader=""
for _ in $(seq 200); do
  for i in 1 2 3; do [ "$(metric "$i" 'cairn_raft_is_leader{group="0"}')" = 1 ] && leader=$i; done
  [ -n "$leader" ] && curl -sf "$E/health" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$leader" ] || { echo "no catalog leader"; tail -5 "$D"/*.log; exit 1; }
follower=$(( leader % 3 + 1 ))
kill -9 "${PID[n$follower]}"; wait "${PID[n$follower]}" 2>/dev/null; unset "PID[n$follower]"
echo "catalog leader: node $leader; node $follower down for the whole load"

printf '%-10s %10s' objects "PUT ops/s"
for k in "${!PID[@]}"; do printf ' %9s' "$k MiB"; done; echo
stored=0 round=0 status=0
while [ "$stored" -lt "$TOTAL" ]; do
  n=$ROUND; [ $((stored + n)) -gt "$TOTAL" ] && n=$((TOTAL - stored))
  out=$(bench "$n" "scale/r$round") || { echo "round $round failed"; status=1; break; }
  stored=$((stored + n)); round=$((round + 1))
  printf '%-10s %10s' "$stored" "$(printf '%s' "$out" | field ops_s)"
  for k in "${!PID[@]}"; do printf ' %9s' "$(rss "${PID[$k]}")"; done; echo
done

cat_file="$D/n$leader/catalog.redb"
cat_bytes=$(stat -c %s "$cat_file")
stream_s=$(python3 - "$cat_file" <<'EOP'
import socket, sys, threading, time
path = sys.argv[1]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def sink():
    c, _ = srv.accept()
    while c.recv(1 << 20):
        pass
t = threading.Thread(target=sink); t.start()
start = time.monotonic()
with socket.create_connection(srv.getsockname()) as s, open(path, "rb") as f:
    s.sendfile(f)
t.join()
print(f"{time.monotonic() - start:.2f}")
EOP
)
target=$(metric "$leader" 'cairn_raft_last_log_index{group="0"}')
echo "leader's catalog.redb: $((cat_bytes / 1048576)) MiB, streamed over loopback in $stream_s s; catalog log at $target"

# Writes go on (rounds of 20,000) until the follower has caught up.
( i=0; until [ -e "$D/caught" ]; do bench 20000 "scale/during$i" >>"$D/during.jsonl" || exit 1; echo >>"$D/during.jsonl"; i=$((i + 1)); done ) &
writer=$!
sleep 2
t0=$(date +%s.%N)
node_up "$follower"
caught=""
while [ -z "$caught" ]; do
  applied=$(metric "$follower" 'cairn_raft_applied_index{group="0"}')
  [ -n "$applied" ] && [ "$applied" -ge "$target" ] && caught=$(echo "$(date +%s.%N) - $t0" | bc)
  [ "$(echo "$(date +%s.%N) - $t0 > 600" | bc)" = 1 ] && { echo "node $follower not caught up in 600 s"; status=1; break; }
  sleep 0.1
done
touch "$D/caught"
wait "$writer" || { echo "writes during catch-up failed"; status=1; }
[ -n "$caught" ] && echo "node $follower applied catalog entry $target in $caught s ($(grep -c 'snapshot installed' "$D/node$follower.log") snapshot(s) installed)"
python3 - "$D/during.jsonl" <<'EOP'
import json, sys
rounds = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"writes meanwhile: {len(rounds)} rounds of 20,000 × 1 KiB, 64 in flight: "
      f"{min(r['ops_s'] for r in rounds):.0f}–{max(r['ops_s'] for r in rounds):.0f} ops/s, "
      f"worst p99 {max(r['p99_ms'] for r in rounds):.1f} ms, slowest request {max(r['max_ms'] for r in rounds):.1f} ms")
EOP
for k in "${!PID[@]}"; do echo "$k peak RSS $(awk '/VmHWM/ {print int($2/1024)}' "/proc/${PID[$k]}/status") MiB"; done
exit $status
