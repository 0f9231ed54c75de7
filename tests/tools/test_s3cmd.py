"""End-to-end tests with s3cmd against cairn (SigV4 and SigV2, path-style)."""

from __future__ import annotations

import pytest

from conftest import MiB, md5_file, multipart_etag, run, sha256_file, write_random_file


def _s3cmd_factory(cairn, tmp_path, signature_v2: bool):
    cfg = tmp_path / f"s3cfg-{'v2' if signature_v2 else 'v4'}"
    cfg.write_text(
        "[default]\n"
        f"access_key = {cairn.access_key}\n"
        f"secret_key = {cairn.secret_key}\n"
        f"host_base = {cairn.addr}\n"
        f"host_bucket = {cairn.addr}\n"
        "use_https = False\n"
        f"signature_v2 = {signature_v2}\n"
        f"bucket_location = {cairn.region}\n"
        "check_ssl_certificate = False\n"
        "guess_mime_type = False\n"
        "progress_meter = False\n"
    )
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}

    def _s3cmd(*args, check=True, timeout=300):
        return run(["s3cmd", "-c", cfg, "--no-progress", *args], env=env, check=check, timeout=timeout)

    return _s3cmd


@pytest.fixture
def s3cmd(cairn, tmp_path):
    return _s3cmd_factory(cairn, tmp_path, signature_v2=False)


@pytest.fixture
def s3cmd_v2(cairn, tmp_path):
    return _s3cmd_factory(cairn, tmp_path, signature_v2=True)


def _ls_keys(output: str) -> list[str]:
    # "2024-01-01 00:00   SIZE   s3://bucket/key" (DIR lines have no date)
    return [line.split("s3://", 1)[1] for line in output.splitlines() if "s3://" in line]


def test_s3cmd_basic_and_multipart(s3cmd, s3, bucket_name, tmp_path):
    s3cmd("mb", f"s3://{bucket_name}")
    assert f"s3://{bucket_name}" in s3cmd("ls").stdout_text

    small = tmp_path / "small.txt"
    small.write_bytes(b"s3cmd says hi\n" * 1000)
    s3cmd("put", small, f"s3://{bucket_name}/docs/small.txt")

    listing = s3cmd("ls", f"s3://{bucket_name}/docs/").stdout_text
    assert _ls_keys(listing) == [f"{bucket_name}/docs/small.txt"], listing
    top = s3cmd("ls", f"s3://{bucket_name}").stdout_text
    assert "DIR" in top and f"s3://{bucket_name}/docs/" in top, top

    s3cmd("get", f"s3://{bucket_name}/docs/small.txt", tmp_path / "small.out")
    assert (tmp_path / "small.out").read_bytes() == small.read_bytes()

    head = s3.head_object(Bucket=bucket_name, Key="docs/small.txt")
    assert head["ETag"] == f'"{md5_file(small)}"' and head["ContentLength"] == small.stat().st_size

    # > 15 MiB: s3cmd uploads in 15 MiB parts (2 parts here).
    big = write_random_file(tmp_path / "big.bin", 17 * MiB + 5, seed=17)
    s3cmd("put", big, f"s3://{bucket_name}/big.bin")
    s3cmd("get", f"s3://{bucket_name}/big.bin", tmp_path / "big.out")
    assert sha256_file(tmp_path / "big.out") == sha256_file(big)
    la = s3cmd("ls", "-r", f"s3://{bucket_name}").stdout_text
    assert sorted(_ls_keys(la)) == [f"{bucket_name}/big.bin", f"{bucket_name}/docs/small.txt"], la
    head = s3.head_object(Bucket=bucket_name, Key="big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"] == multipart_etag(big, 15 * MiB), head  # uploaded as 2 parts

    s3cmd("del", f"s3://{bucket_name}/docs/small.txt")
    s3cmd("del", f"s3://{bucket_name}/big.bin")
    assert _ls_keys(s3cmd("ls", "-r", f"s3://{bucket_name}").stdout_text) == []
    p = s3cmd("get", f"s3://{bucket_name}/big.bin", tmp_path / "gone", check=False)
    assert p.returncode != 0
    s3cmd("rb", f"s3://{bucket_name}")
    assert f"s3://{bucket_name}" not in s3cmd("ls").stdout_text


def test_s3cmd_signature_v2(s3cmd_v2, bucket_name, tmp_path):
    s3cmd = s3cmd_v2
    s3cmd("mb", f"s3://{bucket_name}")
    f = write_random_file(tmp_path / "v2.bin", 100 * 1024 + 1, seed=2)
    s3cmd("put", f, f"s3://{bucket_name}/sig v2/obj.bin")
    assert _ls_keys(s3cmd("ls", "-r", f"s3://{bucket_name}").stdout_text) == [f"{bucket_name}/sig v2/obj.bin"]
    s3cmd("get", f"s3://{bucket_name}/sig v2/obj.bin", tmp_path / "v2.out")
    assert (tmp_path / "v2.out").read_bytes() == f.read_bytes()
    s3cmd("del", f"s3://{bucket_name}/sig v2/obj.bin")
    s3cmd("rb", f"s3://{bucket_name}")
