#!/usr/bin/env bash
# Runs every Cairn test: builds the server, runs the Rust tests (cargo test), the
# e2e suite a second time against a 3-node cluster (CAIRN_TEST_CLUSTER=3), the
# real-tool end-to-end tests (pytest tests/tools: AWS CLI, boto3, rclone, restic,
# s3cmd, duplicity, raw-HTTP bad input, the web console in headless Chromium) and
# the docker compose deployment (tests/deploy/compose.sh, with the image it builds)
# and the fault suite (tests/tests/faults: a cluster on network namespaces under
# faults, with the linearizability checker; needs root). Installs the tools it
# needs if missing.
#
# Usage: bash tests/run.sh            (from any directory; exit status 0 only if all passed)
# Logs:  target/test-logs/ (build.log, cargo-test.log, cargo-test-cluster.log, pytest.log,
#        pytest.xml, pytest-tmp/ with the cairn server logs of the pytest session,
#        scale-load.log, compose.log, faults.log and faults-table.md: one row per
#        fault scenario); the cluster e2e run, the tool tests and the compose test
#        run at the same time.
# Env:   SKIP_INSTALL=1  don't install anything
#        SKIP_RUST=1     skip cargo test (both runs)
#        SKIP_CLUSTER=1  skip the second e2e run against a 3-node cluster
#        SKIP_FAULTS=1   skip the fault suite (otherwise it fails, never skips, without root)
#        SKIP_TOOLS=1    skip the pytest suite
#        SKIP_PERF_SMOKE=1  skip the small runs of tests/perf/scale_load.sh and scale_cluster.sh
#        SKIP_DOCKER=1   skip the docker compose test (tests/deploy/compose.sh); without
#                        it, a machine with no reachable Docker daemon fails that stage
#        PYTEST_ARGS=".."  extra pytest arguments (e.g. "-k boto3 -x")
#        PYTHON=python3  interpreter for pytest and the pip installs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
LOGDIR="$ROOT/target/test-logs"
mkdir -p "$LOGDIR"
rm -f "$LOGDIR/summary-line.txt" "$LOGDIR/e2e-log-scan.txt"
# Each e2e test server notes its log files here for the last stage (no secrets in logs).
export CAIRN_TEST_LOG_DIR="$LOGDIR"
export CAIRN_BIN="$ROOT/target/release/cairn"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

SECONDS=0
declare -a SUMMARY=()
TOTAL_PASSED=0 TOTAL_FAILED=0 TOTAL_SKIPPED=0
OVERALL=0

say() { printf '\n==> %s\n' "$*"; }
record() { # name status seconds detail
  SUMMARY+=("$(printf '%-42s %-7s %5ss  %s' "$1" "$2" "$3" "$4")")
  if [ "$2" != "ok" ] && [ "$2" != "skipped" ]; then OVERALL=1; fi
}

# --------------------------------------------------------------------------
# 1. Tools
# --------------------------------------------------------------------------
install_tools() {
  local missing=() sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  for tool in rclone restic s3cmd curl duplicity chromium; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  # The web console tests (tests/tools/test_console*.py) drive headless Chromium.
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  # The fault suite: network namespaces, partitions, a clock jump.
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || missing+=(libfaketime)
  # duplicity's S3 backend runs on Debian's python3 and needs its boto3.
  /usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    $sudo apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" ca-certificates >"$LOGDIR/apt.log" 2>&1 || { tail -30 "$LOGDIR/apt.log"; return 1; }
  fi
  # Python packages: install tests/tools/requirements.txt unless every pin is already satisfied.
  if ! "$PYTHON" - tests/tools/requirements.txt >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, _, want = line.partition("==")
        assert version(name) == want, (name, version(name), want)
PY
  then
    say "pip install -r tests/tools/requirements.txt"
    "$PYTHON" -m pip install -q -r tests/tools/requirements.txt || return 1
  fi
  if ! command -v s3cmd >/dev/null 2>&1; then
    say "pip install s3cmd"
    "$PYTHON" -m pip install -q s3cmd || return 1
  fi
  command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
  echo "tool versions:"
  echo "  $("$PYTHON" -m awscli --version 2>&1)"
  echo "  boto3 $("$PYTHON" -c 'import boto3; print(boto3.__version__)'), pytest $("$PYTHON" -m pytest --version 2>&1 | tr -d '\n')"
  echo "  $(rclone version 2>/dev/null | head -1)"
  echo "  $(restic version 2>/dev/null)"
  echo "  $(s3cmd --version 2>/dev/null)"
  echo "  $(chromium --version 2>/dev/null), $(chromedriver --version 2>/dev/null | cut -d" " -f1-2)"
  echo "  $(cargo --version)"
  record "install tools" ok $((SECONDS - t0)) ""
}

t0=$SECONDS
if [ "${SKIP_INSTALL:-0}" = 1 ]; then
  record "install tools" skipped 0 "SKIP_INSTALL=1"
elif ! install_tools; then
  record "install tools" FAILED $((SECONDS - t0)) "see $LOGDIR/apt.log"
fi

# --------------------------------------------------------------------------
# 2. Build
# --------------------------------------------------------------------------
say "cargo build --release -p cairn"
t0=$SECONDS
BUILD_OK=1
if cargo build --release -p cairn 2>&1 | tee "$LOGDIR/build.log"; then
  record "build (cargo build --release -p cairn)" ok $((SECONDS - t0)) ""
else
  BUILD_OK=0
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  record "build (cargo build --release -p cairn)" FAILED $((SECONDS - t0)) "see $LOGDIR/build.log"
fi

# --------------------------------------------------------------------------
# 3. Rust tests
# --------------------------------------------------------------------------
# Sum of the "test result:" lines of a cargo test log: "passed failed ignored".
cargo_counts() {
  awk '/^test result:/ {
      for (n = 1; n <= NF; n++) {
        if ($(n+1) ~ /^passed/) p += $n; if ($(n+1) ~ /^failed/) f += $n; if ($(n+1) ~ /^ignored/) i += $n
      } } END { print p+0, f+0, i+0 }' "$1"
}

# run_cargo_tests NAME LOG TIMEOUT ENV CARGO-TEST-ARGS...: runs cargo test with ENV (one
# VAR=VALUE, or "" for none; CAIRN_TEST_CLUSTER is unset otherwise), adds its counts to
# the totals and records the stage.
run_cargo_tests() {
  local name="$1" log="$2" limit="$3" envset="$4" p f i rc st
  shift 4
  say "${envset:+$envset }cargo test $*"
  t0=$SECONDS
  set +e
  # shellcheck disable=SC2086
  env -u CAIRN_TEST_CLUSTER $envset timeout "$limit" cargo test "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  read -r p f i < <(cargo_counts "$log")
  if [ "$rc" = 0 ]; then st=ok; else st=FAILED; [ "$f" = 0 ] && f=1; fi
  TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f)); TOTAL_SKIPPED=$((TOTAL_SKIPPED + i))
  record "$name" "$st" $((SECONDS - t0)) "$p passed, $f failed, $i ignored (exit $rc)"
}

if [ "${SKIP_RUST:-0}" = 1 ]; then
  record "rust tests (cargo test --release)" skipped 0 "SKIP_RUST=1"
elif [ "$BUILD_OK" = 0 ]; then
  record "rust tests (cargo test --release)" FAILED 0 "not run: build failed"
else
  # --no-fail-fast: a failing test binary must not hide the results of the others.
  run_cargo_tests "rust tests (cargo test --release)" "$LOGDIR/cargo-test.log" 50m "" \
    --release --workspace --no-fail-fast -- --test-threads=2
fi

# The fault suite (docs/faults.md): nine scenarios, each a 3-node cluster and a
# gateway on network namespaces under a verifying load. It runs alone (elections
# and partitions are timed). It needs root: without it the stage fails (it is
# never skipped silently).
if [ "${SKIP_RUST:-0}" = 1 ] || [ "${SKIP_FAULTS:-0}" = 1 ]; then
  record "fault suite (network namespaces)" skipped 0 "SKIP_RUST=1 or SKIP_FAULTS=1"
elif [ "$BUILD_OK" = 0 ]; then
  record "fault suite (network namespaces)" FAILED 0 "not run: build failed"
elif [ "$(id -u)" != 0 ]; then
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  record "fault suite (network namespaces)" FAILED 0 "needs root (network namespaces, iptables, tmpfs)"
else
  rm -f "$LOGDIR/faults-table.md"
  run_cargo_tests "fault suite (network namespaces)" "$LOGDIR/faults.log" 20m \
    "CAIRN_FAULT_TABLE=$LOGDIR/faults-table.md" --release -p cairn-tests --test faults -- --test-threads=3 --nocapture
  if [ -f "$LOGDIR/faults-table.md" ]; then cat "$LOGDIR/faults-table.md"; fi
fi

# --------------------------------------------------------------------------
# 4. The stages after the workspace tests run in two lanes at once (they wait on
#    fsyncs and the network more than on the CPU): lane A is the e2e suite against
#    a 3-node cluster, lane B the real-tool tests and then the perf smoke. A stage
#    in a lane writes its record to $LOGDIR/stage-*.rec; the summary reads them.
# --------------------------------------------------------------------------
# finish_stage NAME STATUS SECONDS DETAIL PASSED FAILED SKIPPED: writes the record.
finish_stage() {
  local file="$LOGDIR/stage-$(printf '%s' "$1" | tr -c 'a-zA-Z0-9' '_').rec"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >"$file"
}

# cargo_stage NAME LOG TIMEOUT ENV CARGO-TEST-ARGS...: run_cargo_tests for a lane.
cargo_stage() {
  local name="$1" log="$2" limit="$3" envset="$4" p f i rc st t0=$SECONDS
  shift 4
  set +e
  # shellcheck disable=SC2086
  env -u CAIRN_TEST_CLUSTER $envset timeout "$limit" cargo test "$@" >"$log" 2>&1
  rc=$?
  set -e
  read -r p f i < <(cargo_counts "$log")
  if [ "$rc" = 0 ]; then st=ok; else st=FAILED; [ "$f" = 0 ] && f=1; tail -40 "$log"; fi
  finish_stage "$name" "$st" $((SECONDS - t0)) "$p passed, $f failed, $i ignored (exit $rc); log $log" "$p" "$f" "$i"
}

lane_cluster() {
  if [ "${SKIP_RUST:-0}" = 1 ] || [ "${SKIP_CLUSTER:-0}" = 1 ]; then
    finish_stage "e2e against a 3-node cluster" skipped 0 "SKIP_RUST=1 or SKIP_CLUSTER=1" 0 0 0
  elif [ "$BUILD_OK" = 0 ]; then
    finish_stage "e2e against a 3-node cluster" FAILED 0 "not run: build failed" 0 1 0
  else
    say "CAIRN_TEST_CLUSTER=3 cargo test -p cairn-tests --test e2e (lane A, log cargo-test-cluster.log)"
    cargo_stage "e2e against a 3-node cluster" "$LOGDIR/cargo-test-cluster.log" 30m \
      CAIRN_TEST_CLUSTER=3 --release -p cairn-tests --test e2e -- --test-threads=2
  fi
}

pytest_stage() {
  local t0=$SECONDS rc p f s timeout_arg=()
  if [ "${SKIP_TOOLS:-0}" = 1 ]; then
    finish_stage "tool tests (pytest tests/tools)" skipped 0 "SKIP_TOOLS=1" 0 0 0; return
  elif [ "$BUILD_OK" = 0 ]; then
    finish_stage "tool tests (pytest tests/tools)" FAILED 0 "not run: build failed" 0 1 0; return
  fi
  say "pytest tests/tools (lane B, log pytest.log)"
  rm -f "$LOGDIR/pytest.xml"
  "$PYTHON" -c 'import pytest_timeout' >/dev/null 2>&1 && timeout_arg=(--timeout=900)
  set +e
  # shellcheck disable=SC2086
  timeout 40m "$PYTHON" -m pytest -q -ra -p no:cacheprovider "${timeout_arg[@]}" --durations=15 \
    --junitxml="$LOGDIR/pytest.xml" --basetemp="$LOGDIR/pytest-tmp" tests/tools ${PYTEST_ARGS:-} \
    >"$LOGDIR/pytest.log" 2>&1
  rc=$?
  set -e
  read -r p f s < <("$PYTHON" - "$LOGDIR/pytest.xml" <<'PY' 2>/dev/null || echo "0 0 0"
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(x.get("tests", 0)) for x in suites)
f = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in suites)
s = sum(int(x.get("skipped", 0)) for x in suites)
print(t - f - s, f, s)
PY
)
  if [ "$rc" = 0 ]; then st=ok; else st=FAILED; [ "$f" = 0 ] && f=1; tail -60 "$LOGDIR/pytest.log"; fi
  finish_stage "tool tests (pytest tests/tools)" "$st" $((SECONDS - t0)) "$p passed, $f failed, $s skipped (exit $rc); log $LOGDIR/pytest.log" "$p" "$f" "$s"
}

# Small runs of the scale load scripts (tests/perf/scale_load.sh, scale_cluster.sh):
# they must work; their figures go to the log, nothing is asserted on them.
perf_smoke_stage() {
  local t0=$SECONDS name="perf smoke (scale_load.sh, scale_cluster.sh 20000)"
  if [ "${SKIP_PERF_SMOKE:-0}" = 1 ] || [ "$BUILD_OK" = 0 ]; then
    finish_stage "$name" skipped 0 "SKIP_PERF_SMOKE=1 or build failed" 0 0 0; return
  fi
  say "bash tests/perf/scale_load.sh 20000 10000; scale_cluster.sh 20000 10000 (lane B, log scale-load.log)"
  if PAGES=50 timeout 10m bash tests/perf/scale_load.sh 20000 10000 >"$LOGDIR/scale-load.log" 2>&1 &&
    timeout 10m bash tests/perf/scale_cluster.sh 20000 10000 >>"$LOGDIR/scale-load.log" 2>&1; then
    finish_stage "$name" ok $((SECONDS - t0)) "figures in $LOGDIR/scale-load.log" 0 0 0
  else
    tail -20 "$LOGDIR/scale-load.log"
    finish_stage "$name" FAILED $((SECONDS - t0)) "see $LOGDIR/scale-load.log" 0 1 0
  fi
}

lane_tools() {
  pytest_stage
  perf_smoke_stage
}

# Lane C: the docker-compose deployment (tests/deploy/compose.sh: image build, 3 nodes
# + 1 gateway, S3 through the gateway, one node killed). Needs Docker: without a
# reachable daemon the stage fails (SKIP_DOCKER=1 skips it explicitly).
compose_stage() {
  local t0=$SECONDS
  if [ "${SKIP_DOCKER:-0}" = 1 ]; then
    finish_stage "docker compose cluster (tests/deploy)" skipped 0 "SKIP_DOCKER=1" 0 0 0; return
  elif [ "$BUILD_OK" = 0 ]; then
    finish_stage "docker compose cluster (tests/deploy)" FAILED 0 "not run: build failed" 0 1 0; return
  fi
  say "bash tests/deploy/compose.sh (lane C, log compose.log)"
  if PYTHON="$PYTHON" timeout 6m bash tests/deploy/compose.sh >"$LOGDIR/compose.log" 2>&1; then
    finish_stage "docker compose cluster (tests/deploy)" ok $((SECONDS - t0)) "log $LOGDIR/compose.log" 1 0 0
  else
    tail -40 "$LOGDIR/compose.log"
    finish_stage "docker compose cluster (tests/deploy)" FAILED $((SECONDS - t0)) "see $LOGDIR/compose.log" 0 1 0
  fi
}

rm -f "$LOGDIR"/stage-*.rec
lane_cluster &
lane_a=$!
lane_tools &
lane_b=$!
compose_stage &
lane_c=$!
wait "$lane_a" || true
wait "$lane_b" || true
wait "$lane_c" || true
expected_stages=4
found_stages=0
for rec in "$LOGDIR"/stage-*.rec; do
  [ -f "$rec" ] || continue
  IFS=$'\t' read -r name st secs detail p f i <"$rec"
  TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f)); TOTAL_SKIPPED=$((TOTAL_SKIPPED + i))
  record "$name" "$st" "$secs" "$detail"
  found_stages=$((found_stages + 1))
done
if [ "$found_stages" != "$expected_stages" ]; then
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  record "lanes" FAILED 0 "$found_stages of $expected_stages stages left a record"
fi

# --------------------------------------------------------------------------
# 6. No secret the suite used is in any log it produced (tests/tools/scan_log_secrets.py).
# --------------------------------------------------------------------------
say "scan logs for secrets"
t0=$SECONDS
if "$PYTHON" tests/tools/scan_log_secrets.py "$ROOT" 2>&1 | tee "$LOGDIR/secret-scan.txt.out"; then
  TOTAL_PASSED=$((TOTAL_PASSED + 1))
  record "no secrets in logs" ok $((SECONDS - t0)) "$(head -1 "$LOGDIR/secret-scan.txt.out")"
else
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  record "no secrets in logs" FAILED $((SECONDS - t0)) "see $LOGDIR/secret-scan.txt.out"
fi

# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------
echo
echo "======================== Cairn test summary ========================"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "logs: $LOGDIR   total time: ${SECONDS}s"
if [ "$OVERALL" = 0 ]; then echo "RESULT: ALL TESTS PASSED"; else echo "RESULT: FAILURES"; fi
echo "total: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped" | tee "$LOGDIR/summary-line.txt"
exit "$OVERALL"
