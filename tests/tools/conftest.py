"""Shared fixtures for the real-tool end-to-end tests of Cairn.

A single `cairn server` process is started per test session on a free
loopback port with a fresh data directory.  Its combined stdout/stderr goes
to a log file; the part of that log written while a failing test ran is
attached to the failure report.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
ACCESS_KEY = "CAIRNTESTACCESSKEY01"
SECRET_KEY = "cairn/test/secret/key/0123456789abcdefghij"
REGION = "us-east-1"

SUBPROCESS_TIMEOUT = 300  # seconds, per external command
MiB = 1024 * 1024


@dataclass
class CairnServer:
    endpoint: str  # http://127.0.0.1:PORT
    addr: str  # 127.0.0.1:PORT
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str
    data_dir: pathlib.Path
    log_path: pathlib.Path
    proc: subprocess.Popen = field(repr=False)

    def log_tail(self, start: int = 0, max_lines: int = 200) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                data = f.read().decode("utf-8", "replace")
        except OSError as e:  # pragma: no cover
            return f"<cannot read server log: {e}>"
        lines = re.sub(r"\x1b\[[0-9;]*m", "", data).splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines omitted)"] + lines[-max_lines:]
        return "\n".join(lines)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0


def cairn_binary() -> pathlib.Path:
    env = os.environ.get("CAIRN_BIN")
    return pathlib.Path(env) if env else REPO / "target" / "release" / "cairn"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(tmp_root: pathlib.Path, extra_args=()) -> CairnServer:
    binary = cairn_binary()
    if not binary.exists():
        pytest.fail(
            f"cairn binary not found at {binary}; build it with "
            "`cargo build --release -p cairn` or set CAIRN_BIN",
            pytrace=False,
        )
    last_err = ""
    for attempt in range(3):
        port = _free_port()
        data_dir = tmp_root / f"data-{attempt}"
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = tmp_root / f"cairn-server-{attempt}.log"
        env = dict(os.environ)
        env["CAIRN_ACCESS_KEY"] = ACCESS_KEY
        env["CAIRN_SECRET_KEY"] = SECRET_KEY
        env.setdefault("RUST_LOG", "info")
        env.setdefault("NO_COLOR", "1")
        env.setdefault("RUST_BACKTRACE", "1")
        cmd = [
            str(binary), "server",
            "--listen", f"127.0.0.1:{port}",
            "--data", str(data_dir),
            "--region", REGION,
            *extra_args,
        ]
        log = open(log_path, "wb")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        log.close()
        server = CairnServer(
            endpoint=f"http://127.0.0.1:{port}", addr=f"127.0.0.1:{port}",
            host="127.0.0.1", port=port, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
            region=REGION, data_dir=data_dir, log_path=log_path, proc=proc,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                r = requests.get(f"{server.endpoint}/health", timeout=2)
                if r.status_code == 200:
                    return server
            except requests.RequestException:
                pass
            time.sleep(0.1)
        rc = proc.poll()
        if rc is None:
            _stop(proc)
            last_err = "server did not answer 200 on /health within 20 s"
        else:
            last_err = f"server exited with code {rc}"
        last_err += f"\ncommand: {' '.join(cmd)}\n--- server log ---\n{server.log_tail()}"
        if "in use" not in last_err.lower():
            break  # only retry on a port race
    pytest.fail(f"could not start cairn server: {last_err}", pytrace=False)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


_SERVERS: list[CairnServer] = []


@pytest.fixture(scope="session")
def cairn(tmp_path_factory) -> CairnServer:
    """A running cairn server shared by the whole session."""
    server = _start_server(tmp_path_factory.mktemp("cairn"))
    _SERVERS.append(server)
    yield server
    _SERVERS.remove(server)
    _stop(server.proc)
    rc = server.proc.returncode
    # Keep the log next to the other pytest temp files; print its location.
    sys.stderr.write(f"\ncairn server log: {server.log_path} (exit code {rc})\n")


@pytest.fixture(autouse=True)
def _server_log_marker(request):
    """Remember where the server log was when the test started."""
    request.node._cairn_log_start = {id(s): s.log_size() for s in _SERVERS}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call", "teardown"):
        starts = getattr(item, "_cairn_log_start", {})
        for s in list(_SERVERS):
            start = starts.get(id(s), 0)
            alive = "running" if s.proc.poll() is None else f"EXITED with code {s.proc.returncode}"
            report.sections.append(
                (f"cairn server log during test ({s.addr}, {alive})", s.log_tail(start) or "<empty>")
            )


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def unique_bucket_name(hint: str = "t") -> str:
    hint = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:30].strip("-") or "t"
    return f"{hint}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket_name(request) -> str:
    """A fresh, not-yet-created, valid bucket name."""
    return unique_bucket_name(request.node.originalname or request.node.name)


@pytest.fixture
def s3(cairn):
    """A boto3 S3 client for the test server (path-style, SigV4)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=cairn.endpoint,
        aws_access_key_id=cairn.access_key,
        aws_secret_access_key=cairn.secret_key,
        region_name=cairn.region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        ),
    )


@pytest.fixture
def bucket(s3, bucket_name) -> str:
    """A freshly created bucket with a unique name."""
    s3.create_bucket(Bucket=bucket_name)
    return bucket_name


def run(cmd, *, env=None, cwd=None, timeout=SUBPROCESS_TIMEOUT, check=True, input=None):
    """Run an external command, capturing output; on failure raise with all output."""
    cmd = [str(c) for c in cmd]
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout, capture_output=True,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"command timed out after {timeout}s: {' '.join(cmd)}\n"
            f"--- stdout ---\n{_dec(e.stdout)}\n--- stderr ---\n{_dec(e.stderr)}"
        ) from None
    p.stdout_text = _dec(p.stdout)
    p.stderr_text = _dec(p.stderr)
    if check and p.returncode != 0:
        raise AssertionError(
            f"command failed with exit code {p.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{p.stdout_text[-6000:]}\n--- stderr ---\n{p.stderr_text[-6000:]}"
        )
    return p


def _dec(b) -> str:
    if b is None:
        return ""
    if isinstance(b, str):
        return b
    return b.decode("utf-8", "replace")


def write_random_file(path: pathlib.Path, size: int, seed: int) -> pathlib.Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        remaining = size
        while remaining > 0:
            n = min(remaining, MiB)
            f.write(rng.randbytes(n))
            remaining -= n
    return path


def make_tree(root: pathlib.Path, *, files: int, seed: int, big_files: int = 0,
              big_size: int = 2 * MiB, max_small: int = 16 * 1024) -> pathlib.Path:
    """Generate a deterministic nested directory tree of random files.

    Small files have sizes 0..max_small (some empty), `big_files` files have
    `big_size` bytes.  Names include dashes, dots, underscores and spaces.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    dirs = [pathlib.Path(".")]
    for i in range(max(1, files // 12)):
        parent = rng.choice(dirs)
        if len(parent.parts) >= 4:
            parent = pathlib.Path(".")
        dirs.append(parent / f"dir_{i:03d}{rng.choice(['', '-x', '.d', ' sp'])}")
    for i in range(files):
        d = rng.choice(dirs)
        name = f"file-{i:04d}{rng.choice(['.txt', '.bin', '', '.tar.gz', '_v2.dat'])}"
        size = 0 if i % 37 == 5 else rng.randint(1, max_small)
        p = root / d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(size))
    for i in range(big_files):
        d = rng.choice(dirs)
        write_random_file(root / d / f"big-{i:02d}.bin", big_size, seed * 1000 + i)
    return root


def tree_digest(root: pathlib.Path) -> dict[str, str]:
    """Map of relative POSIX path -> sha256 hex for every regular file under root."""
    out = {}
    root = pathlib.Path(root)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = sha256_file(p)
    return out


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def md5_file(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def multipart_etag(path, part_size: int) -> str:
    """The S3 ETag of a multipart object uploaded with equal `part_size` parts."""
    digests = []
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(part_size), b""):
            digests.append(hashlib.md5(chunk).digest())
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


def assert_trees_equal(expected: dict[str, str], actual: dict[str, str]) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differ = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    assert not (missing or extra or differ), (
        f"trees differ: {len(missing)} missing {missing[:10]}, {len(extra)} extra {extra[:10]}, "
        f"{len(differ)} with different content {differ[:10]}"
    )
