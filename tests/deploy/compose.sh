#!/usr/bin/env bash
# The docker-compose deployment, end to end: builds the image with
# deploy/docker/build-image.sh, starts deploy/docker/docker-compose.yml (3 nodes +
# 1 gateway) under a project of its own, waits until every container is healthy,
# checks that the processes run as uid 10001 (read-only root, no capabilities,
# restart unless-stopped), then with boto3
# (tests/deploy/s3_phase.py) through the published gateway port: PUT, GET (bytes
# compared), LIST; kills one node container (SIGKILL) and checks that reads, lists
# and a new PUT still work with two nodes of three; restarts it, waits for it to be
# healthy and reads the object written while it was down. Always ends with
# `docker compose down -v`.
#
# Needs Docker (fails, never skips, when the daemon cannot be reached) and boto3.
# Usage: bash tests/deploy/compose.sh   (exit 0 = passed)
# Env: PYTHON (default python3), KEEP=1 leaves the project running for a look.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$ROOT/deploy/docker"
PYTHON="${PYTHON:-python3}"
PROJECT="cairntest$$"
IMAGE="cairn:compose-test"
WORK="$(mktemp -d)"
T0=$SECONDS

fail() { echo "compose test: FAILED: $*" >&2; exit 1; }
step() { printf '[%3ss] %s\n' $((SECONDS - T0)) "$*"; }

command -v docker >/dev/null 2>&1 || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "cannot reach the Docker daemon (docker info: $(docker info 2>&1 | tail -1))"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=(docker-compose)
else fail "neither 'docker compose' nor docker-compose is installed"; fi
"$PYTHON" -c 'import boto3' 2>/dev/null || fail "boto3 is missing ($PYTHON -c 'import boto3')"

# A free port for the S3 endpoint; test credentials.
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export CAIRN_IMAGE="$IMAGE" CAIRN_S3_PORT="$PORT" CAIRN_S3_BIND=127.0.0.1
export CAIRN_ACCESS_KEY="CKCOMPOSETEST$$" CAIRN_SECRET_KEY="compose-test-secret-$RANDOM$RANDOM"
export AWS_ACCESS_KEY_ID="$CAIRN_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$CAIRN_SECRET_KEY"
export AWS_EC2_METADATA_DISABLED=true
# A copy of the compose directory with a cluster secret of its own (none lands in
# the checkout).
cp "$DIR/docker-compose.yml" "$DIR/cluster.toml" "$WORK/"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cluster-secret"
chmod 0644 "$WORK/cluster-secret" # read by uid 10001 in the containers
dc() { "${COMPOSE[@]}" -p "$PROJECT" -f "$WORK/docker-compose.yml" "$@"; }
ENDPOINT="http://127.0.0.1:$PORT"

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    echo "--- container states"; dc ps 2>&1 || true
    echo "--- last log lines"; dc logs --no-color --tail=40 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: project $PROJECT left running (files in $WORK)"
  else
    dc down -v --remove-orphans >/dev/null 2>&1 || echo "compose test: docker compose down -v failed" >&2
    docker image rm "$IMAGE" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

# Container ids by service, looked up once after `up` (docker-compose is slow to start).
declare -A CID=()
cid() { [ -n "${CID[$1]:-}" ] || CID[$1]="$(dc ps -q "$1")"; echo "${CID[$1]}"; }
state() { docker inspect -f '{{.State.Status}}' "$(cid "$1")" 2>/dev/null || echo gone; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$(cid "$1")" 2>/dev/null || echo gone; }
# wait_healthy LIMIT SERVICE...: every SERVICE healthy within LIMIT seconds.
wait_healthy() {
  local limit=$1 deadline=$((SECONDS + $1)) s h pending
  shift
  while :; do
    pending=()
    for s in "$@"; do h="$(health "$s")"; [ "$h" = healthy ] || pending+=("$s:$h"); done
    [ ${#pending[@]} = 0 ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && fail "not healthy within ${limit}s: ${pending[*]}"
    sleep 1
  done
}

step "building the image ($IMAGE)"
bash "$DIR/build-image.sh" "$IMAGE"
[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" = "10001:10001" ] || fail "the image does not run as uid 10001"

step "${COMPOSE[*]} up -d (project $PROJECT, S3 on 127.0.0.1:$PORT)"
dc up -d
for s in node1 node2 node3 gateway; do cid "$s" >/dev/null; done
wait_healthy 120 node1 node2 node3 gateway
step "all four containers healthy"
for s in node1 node2 node3 gateway; do
  policy="$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "${CID[$s]}")"
  [ "$policy" = unless-stopped ] || fail "$s has restart policy '$policy', not unless-stopped"
  uid="$(docker top "${CID[$s]}" | awk 'NR > 1 { print $1 }' | sort -u | tr '\n' ' ')" || true
  [ "$uid" = "10001 " ] || fail "$s's process runs as uid '$uid', not 10001"
  mode="$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "${CID[$s]}")"
  [ "$mode" = "true [ALL]" ] || fail "$s: read-only root and capabilities dropped: '$mode'"
done

# The probe the health checks use: 0 on 200 only.
BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
"$BIN" healthcheck --url "$ENDPOINT/health" >/dev/null || fail "cairn healthcheck of the gateway failed"
if "$BIN" healthcheck --url "$ENDPOINT/no-such-bucket" 2>/dev/null; then
  fail "cairn healthcheck succeeded on a URL that does not answer 200"
fi
"$PYTHON" "$ROOT/tests/deploy/s3_phase.py" "$ENDPOINT" before || fail "S3 checks with every node up"
step "PUT, GET (5 MB, bytes identical) and LIST through the gateway"

step "kill -s KILL node3"
dc kill -s KILL node3 >/dev/null 2>&1
[ "$(state node3)" = exited ] || fail "node3 is still $(state node3) after SIGKILL"
"$PYTHON" "$ROOT/tests/deploy/s3_phase.py" "$ENDPOINT" degraded || fail "S3 checks with node3 down"
step "with node3 down: GET (bytes identical), PUT and LIST still work"

dc start node3 >/dev/null 2>&1
wait_healthy 60 node3
"$PYTHON" "$ROOT/tests/deploy/s3_phase.py" "$ENDPOINT" after || fail "S3 checks after node3's restart"
step "node3 restarted and healthy; the object written while it was down reads back"
echo "compose test: PASSED in $((SECONDS - T0))s"
