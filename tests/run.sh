#!/usr/bin/env bash
# Runs every Cairn test: builds the server, runs the Rust tests (cargo test), the
# e2e suite a second time against a 3-node cluster (CAIRN_TEST_CLUSTER=3), and
# the real-tool end-to-end tests (pytest tests/tools: AWS CLI, boto3, rclone,
# restic, s3cmd, duplicity, raw-HTTP bad input). Installs the tools it needs if missing.
#
# Usage: bash tests/run.sh            (from any directory; exit status 0 only if all passed)
# Logs:  target/test-logs/ (build.log, cargo-test.log, cargo-test-cluster.log, pytest.xml,
#        pytest-tmp/ with the cairn server logs of the pytest session)
# Env:   SKIP_INSTALL=1  don't install anything
#        SKIP_RUST=1     skip cargo test (both runs)
#        SKIP_CLUSTER=1  skip the second e2e run against a 3-node cluster
#        SKIP_TOOLS=1    skip the pytest suite
#        SKIP_PERF_SMOKE=1  skip the small run of tests/perf/scale_load.sh
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
  for tool in rclone restic s3cmd curl duplicity; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
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

# The same e2e test binary against a cluster: 3 `cairn node` processes and a
# `cairn gateway` per test (see tests/src/cluster.rs).
if [ "${SKIP_RUST:-0}" = 1 ] || [ "${SKIP_CLUSTER:-0}" = 1 ]; then
  record "e2e against a 3-node cluster" skipped 0 "SKIP_RUST=1 or SKIP_CLUSTER=1"
elif [ "$BUILD_OK" = 0 ]; then
  record "e2e against a 3-node cluster" FAILED 0 "not run: build failed"
else
  run_cargo_tests "e2e against a 3-node cluster" "$LOGDIR/cargo-test-cluster.log" 30m \
    CAIRN_TEST_CLUSTER=3 --release -p cairn-tests --test e2e -- --test-threads=2
fi

# --------------------------------------------------------------------------
# 4. Real-tool end-to-end tests
# --------------------------------------------------------------------------
if [ "${SKIP_TOOLS:-0}" = 1 ]; then
  record "tool tests (pytest tests/tools)" skipped 0 "SKIP_TOOLS=1"
elif [ "$BUILD_OK" = 0 ]; then
  record "tool tests (pytest tests/tools)" FAILED 0 "not run: build failed"
else
  say "pytest tests/tools"
  t0=$SECONDS
  rm -f "$LOGDIR/pytest.xml"
  timeout_arg=()
  "$PYTHON" -c 'import pytest_timeout' >/dev/null 2>&1 && timeout_arg=(--timeout=900)
  set +e
  # shellcheck disable=SC2086
  timeout 40m "$PYTHON" -m pytest -q -ra -p no:cacheprovider "${timeout_arg[@]}" --durations=15 \
    --junitxml="$LOGDIR/pytest.xml" --basetemp="$LOGDIR/pytest-tmp" tests/tools ${PYTEST_ARGS:-}
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
  if [ "$rc" = 0 ]; then st=ok; else st=FAILED; [ "$f" = 0 ] && f=1; fi
  TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f)); TOTAL_SKIPPED=$((TOTAL_SKIPPED + s))
  record "tool tests (pytest tests/tools)" "$st" $((SECONDS - t0)) "$p passed, $f failed, $s skipped (exit $rc)"
fi

# --------------------------------------------------------------------------
# 5. A small run of the scale load script (tests/perf/scale_load.sh): it must work;
#    its figures go to the log, nothing is asserted on them.
# --------------------------------------------------------------------------
if [ "${SKIP_PERF_SMOKE:-0}" = 1 ] || [ "$BUILD_OK" = 0 ]; then
  record "perf smoke (scale_load.sh 20000)" skipped 0 "SKIP_PERF_SMOKE=1 or build failed"
else
  say "bash tests/perf/scale_load.sh 20000 10000"
  t0=$SECONDS
  if PAGES=50 timeout 10m bash tests/perf/scale_load.sh 20000 10000 2>&1 | tee "$LOGDIR/scale-load.log"; then
    record "perf smoke (scale_load.sh 20000)" ok $((SECONDS - t0)) "figures in $LOGDIR/scale-load.log"
  else
    record "perf smoke (scale_load.sh 20000)" FAILED $((SECONDS - t0)) "see $LOGDIR/scale-load.log"
  fi
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
