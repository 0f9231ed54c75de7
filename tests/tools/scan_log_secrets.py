"""Last stage of tests/run.sh: no secret the suite used is in any log it produced.

Reads the test secrets (the S3 secret key and the admin token of tests/src/lib.rs and
tests/tools/conftest.py), then greps every file under target/test-logs (build and
cargo test output, pytest-tmp with the pytest servers' logs, scale-load logs) and
checks e2e-log-scan.txt, where each e2e test server noted its own log files when it
stopped (those go with their temporary directories). Exit status 1 on any finding.

Not scanned, because they hold the secrets by design and Cairn never writes them: the
client configuration files the tests write for s3cmd (s3cfg-*) and rclone
(rclone.conf), and chromedriver.log, the WebDriver's record of the keystrokes the
console test types into the login form.

Usage: python3 tests/tools/scan_log_secrets.py ROOT
"""

import fnmatch
import os
import re
import sys

# Files that are not logs of Cairn and hold a secret by design (see above).
NOT_LOGS = ("s3cfg-*", "rclone.conf", "chromedriver.log")


def secrets(root):
    found = set()
    for rel in ("tests/src/lib.rs", "tests/tools/conftest.py"):
        text = open(os.path.join(root, rel), encoding="utf-8").read()
        for name in ("SECRET_KEY", "ADMIN_TOKEN"):
            for m in re.finditer(name + r'\s*(?::\s*&str)?\s*=\s*"([^"]+)"', text):
                found.add(m.group(1))
    return sorted(found)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    logdir = os.path.join(root, "target", "test-logs")
    wanted = [s.encode() for s in secrets(root)]
    if not wanted:
        print("no test secrets found to look for")
        return 1
    leaks, scanned = [], 0
    for dirpath, _, files in os.walk(logdir):
        for name in files:
            if any(fnmatch.fnmatch(name, pattern) for pattern in NOT_LOGS):
                continue
            path = os.path.join(dirpath, name)
            try:
                data = open(path, "rb").read()
            except OSError:
                continue
            scanned += 1
            if any(s in data for s in wanted):
                leaks.append(path)
    e2e_ok = e2e_leaks = 0
    manifest = os.path.join(logdir, "e2e-log-scan.txt")
    if os.path.exists(manifest):
        for line in open(manifest, encoding="utf-8", errors="replace"):
            if line.startswith("LEAK "):
                e2e_leaks += 1
                leaks.append(line[5:].strip() + " (e2e server log)")
            elif line.startswith("ok "):
                e2e_ok += 1
    print(f"{len(wanted)} secrets looked for in {scanned} files under {logdir} "
          f"and {e2e_ok + e2e_leaks} e2e server logs")
    for path in leaks:
        print(f"SECRET FOUND in {path}")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
