"""End-to-end tests driving the real AWS CLI (v1, `python -m awscli`) against cairn."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import (MiB, assert_trees_equal, make_tree, md5_file, multipart_etag, run,
                      sha256_file, tree_digest, write_random_file)


@pytest.fixture
def aws(cairn, tmp_path):
    """Return a function running `aws --endpoint-url ... ARGS` with isolated config."""
    cfg = tmp_path / "aws-config"
    # Path-style addressing; everything else (checksums, multipart threshold
    # 8 MiB, chunk size 8 MiB) stays at the CLI's defaults.
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": cairn.access_key,
        "AWS_SECRET_ACCESS_KEY": cairn.secret_key,
        "AWS_DEFAULT_REGION": cairn.region,
        "AWS_CONFIG_FILE": str(cfg),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }

    def _aws(*args, check=True, timeout=300, input=None):
        return run([sys.executable, "-m", "awscli", "--endpoint-url", cairn.endpoint, *args],
                   env=env, check=check, timeout=timeout, input=input)

    return _aws


def test_mb_ls_rb(aws, bucket_name):
    aws("s3", "mb", f"s3://{bucket_name}")
    out = aws("s3", "ls").stdout_text
    assert bucket_name in out.split(), out
    aws("s3", "rb", f"s3://{bucket_name}")
    out = aws("s3", "ls").stdout_text
    assert bucket_name not in out.split(), out


def test_cp_small_and_multipart(aws, bucket_name, tmp_path):
    aws("s3", "mb", f"s3://{bucket_name}")

    small = tmp_path / "small.txt"
    small.write_bytes(b"hello cairn\n" * 100)
    aws("s3", "cp", small, f"s3://{bucket_name}/dir/small.txt")
    aws("s3", "cp", f"s3://{bucket_name}/dir/small.txt", tmp_path / "small.out")
    assert (tmp_path / "small.out").read_bytes() == small.read_bytes()

    # 20 MiB: above the CLI's default 8 MiB multipart threshold -> 3 parts
    # (8 + 8 + 4 MiB) on upload and ranged GETs on download.
    big = write_random_file(tmp_path / "big.bin", 20 * MiB, seed=20)
    aws("s3", "cp", big, f"s3://{bucket_name}/big.bin")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "big.bin").stdout_text)
    assert head["ContentLength"] == 20 * MiB
    assert head["ETag"] == multipart_etag(big, 8 * MiB), head
    aws("s3", "cp", f"s3://{bucket_name}/big.bin", tmp_path / "big.out")
    assert sha256_file(tmp_path / "big.out") == sha256_file(big)

    # Small object ETag is the plain MD5.
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "dir/small.txt").stdout_text)
    assert head["ETag"] == f'"{md5_file(small)}"'
    assert head["ContentLength"] == small.stat().st_size

    # Stream from stdin and to stdout.
    payload = bytes(range(256)) * 4096 + b"tail"
    aws("s3", "cp", "-", f"s3://{bucket_name}/streamed", input=payload)
    assert aws("s3", "cp", f"s3://{bucket_name}/streamed", "-").stdout == payload


def test_sync_ls_rm(aws, bucket_name, tmp_path):
    aws("s3", "mb", f"s3://{bucket_name}")
    src = make_tree(tmp_path / "src", files=60, seed=7, big_files=1, big_size=9 * MiB)
    expected = tree_digest(src)

    aws("s3", "sync", src, f"s3://{bucket_name}/tree")

    listing = aws("s3", "ls", "--recursive", f"s3://{bucket_name}/tree/").stdout_text
    # `aws s3 ls --recursive` prints "DATE TIME SIZE KEY"; keys may contain spaces.
    keys = {line.split(None, 3)[3] for line in listing.splitlines() if line.strip()}
    assert keys == {f"tree/{k}" for k in expected}, listing

    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket_name}/tree", down)
    assert_trees_equal(expected, tree_digest(down))

    # Change the source: modify one file (different size), delete one, add one.
    files = sorted(p for p in src.rglob("*") if p.is_file())
    files[0].write_bytes(b"modified content " * 33)
    files[1].unlink()
    (src / "new-dir" / "nested").mkdir(parents=True)
    (src / "new-dir" / "nested" / "added.txt").write_bytes(b"added\n")
    expected2 = tree_digest(src)
    aws("s3", "sync", "--delete", src, f"s3://{bucket_name}/tree")
    aws("s3", "sync", "--delete", f"s3://{bucket_name}/tree", down)
    assert_trees_equal(expected2, tree_digest(down))

    # Non-recursive ls shows the top-level "directories" as PRE entries.
    top = aws("s3", "ls", f"s3://{bucket_name}/tree/").stdout_text
    assert "PRE new-dir/" in top, top

    aws("s3", "rm", "--recursive", f"s3://{bucket_name}/tree/")
    out = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket_name).stdout_text or "{}")
    assert out.get("KeyCount", 0) == 0 and not out.get("Contents"), out
    aws("s3", "rb", f"s3://{bucket_name}")


def test_s3api_object_calls(aws, bucket_name, tmp_path):
    aws("s3api", "create-bucket", "--bucket", bucket_name)
    body = tmp_path / "body.bin"
    write_random_file(body, 300 * 1024 + 7, seed=3)

    put = json.loads(aws("s3api", "put-object", "--bucket", bucket_name, "--key", "a/b/c.bin",
                         "--body", body, "--content-type", "application/x-test",
                         "--metadata", "color=blue,Answer=42").stdout_text)
    assert put["ETag"] == f'"{md5_file(body)}"', put
    aws("s3api", "put-object", "--bucket", bucket_name, "--key", "a/other", "--body", body)
    aws("s3api", "put-object", "--bucket", bucket_name, "--key", "z-top", "--body", body)

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket_name, "--key", "a/b/c.bin").stdout_text)
    assert head["ContentLength"] == body.stat().st_size
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"color": "blue", "answer": "42"}, head
    assert head["ETag"] == put["ETag"]

    out = tmp_path / "out.bin"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket_name, "--key", "a/b/c.bin", out).stdout_text)
    assert out.read_bytes() == body.read_bytes()
    assert got["ContentLength"] == body.stat().st_size
    assert got["Metadata"] == {"color": "blue", "answer": "42"}

    lst = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket_name, "--prefix", "a/",
                         "--no-paginate").stdout_text)
    assert lst["KeyCount"] == 2
    assert [o["Key"] for o in lst["Contents"]] == ["a/b/c.bin", "a/other"]
    assert all(o["Size"] == body.stat().st_size for o in lst["Contents"])

    lst = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket_name, "--delimiter", "/").stdout_text)
    assert [o["Key"] for o in lst["Contents"]] == ["z-top"]
    assert [p["Prefix"] for p in lst["CommonPrefixes"]] == ["a/"]

    aws("s3api", "delete-object", "--bucket", bucket_name, "--key", "a/b/c.bin")
    p = aws("s3api", "head-object", "--bucket", bucket_name, "--key", "a/b/c.bin", check=False)
    assert p.returncode != 0
    assert "404" in p.stderr_text or "Not Found" in p.stderr_text, p.stderr_text
    p = aws("s3api", "get-object", "--bucket", bucket_name, "--key", "a/b/c.bin", tmp_path / "x", check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr_text, p.stderr_text

    lst = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket_name).stdout_text)
    assert [o["Key"] for o in lst["Contents"]] == ["a/other", "z-top"]
