"""The admin API against its own OpenAPI document: schemathesis (pinned in
requirements.txt) generates requests from /v1/openapi.json of a real `cairn
server` and checks that no answer is a server error, that every answer's status
is documented and its body matches the document's schema. Without the token
every endpoint but the document itself answers 401 JSON."""

import os
import pathlib
import secrets
import subprocess
import sys
import time

import pytest
import requests

from conftest import _start_server, _stop

TOKEN = "schemathesis-admin-token-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    port_file = tmp_path_factory.mktemp("admin")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        admin_port = s.getsockname()[1]
    os.environ["CAIRN_ADMIN_TOKEN"] = TOKEN
    try:
        server = _start_server(port_file, ["--admin-listen", f"127.0.0.1:{admin_port}"])
    finally:
        del os.environ["CAIRN_ADMIN_TOKEN"]
    base = f"http://127.0.0.1:{admin_port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/v1/openapi.json", timeout=2)
            break
        except requests.RequestException:
            time.sleep(0.1)
    yield server, base
    _stop(server.proc)


def test_token_required(admin_server):
    _, base = admin_server
    for path in ["/v1/keys", "/v1/buckets", "/v1/cluster"]:
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"] == "unauthorized"
    doc = requests.get(base + "/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/keys" in doc["paths"]


def test_schemathesis(admin_server, tmp_path):
    server, base = admin_server
    # A bucket and a key for the generated requests to find.
    import boto3

    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                      aws_secret_access_key=server.secret_key, region_name=server.region)
    s3.create_bucket(Bucket="schema-bucket")
    r = requests.post(base + "/v1/keys", json={"name": "schema-key"},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 201, r.text
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/v1/openapi.json",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
        "--max-examples", "30",
        "--phases", "examples,fuzzing",
        "--request-timeout", "10",
        "--no-color",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    report = out.stdout + out.stderr
    print(report[-6000:])
    assert out.returncode == 0, report[-6000:]
    # The admin token is never in the server's log.
    assert TOKEN not in server.log_path.read_text(errors="replace")
