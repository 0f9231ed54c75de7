"""End-to-end tests with rclone (Debian's package) against cairn."""

from __future__ import annotations


import pytest

from conftest import MiB, assert_trees_equal, make_tree, run, tree_digest, write_random_file



@pytest.fixture
def rclone(cairn, tmp_path):
    conf = tmp_path / "rclone.conf"
    conf.write_text("")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RCLONE_CONFIG": str(conf),
        "RCLONE_CONFIG_CAIRN_TYPE": "s3",
        "RCLONE_CONFIG_CAIRN_PROVIDER": "Other",
        "RCLONE_CONFIG_CAIRN_ENV_AUTH": "false",
        "RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID": cairn.access_key,
        "RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY": cairn.secret_key,
        "RCLONE_CONFIG_CAIRN_REGION": cairn.region,
        "RCLONE_CONFIG_CAIRN_ENDPOINT": cairn.endpoint,
        "RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE": "true",
        # Exercise rclone's multipart uploads with files above 5 MiB.
        "RCLONE_CONFIG_CAIRN_UPLOAD_CUTOFF": "5M",
        "RCLONE_CONFIG_CAIRN_CHUNK_SIZE": "5M",
        "RCLONE_CACHE_DIR": str(tmp_path / "rclone-cache"),
    }

    def _rclone(*args, check=True, timeout=300):
        return run(["rclone", "--retries", "1", "--low-level-retries", "2", "--contimeout", "10s",
                    "--timeout", "60s", *args], env=env, check=check, timeout=timeout)

    return _rclone


def test_rclone_copy_sync_check(rclone, bucket_name, tmp_path):
    remote = f"cairn:{bucket_name}/tree"
    src = make_tree(tmp_path / "src", files=80, seed=11, big_files=1, big_size=3 * MiB)
    write_random_file(src / "multipart" / "twelve.bin", 12 * MiB + 17, seed=12)
    expected = tree_digest(src)

    rclone("mkdir", f"cairn:{bucket_name}")
    rclone("copy", src, remote)
    rclone("check", src, remote)

    listed = set(rclone("lsf", "-R", "--files-only", remote).stdout_text.splitlines())
    assert listed == set(expected)

    # Modify, delete and add local files.
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.stat().st_size > 0)
    files[0].write_bytes(b"changed by the test\n" * 10)
    files[3].write_bytes(files[3].read_bytes()[::-1] + b"!")
    files[5].unlink()
    files[6].unlink()
    (src / "brand" / "new").mkdir(parents=True)
    (src / "brand" / "new" / "file.txt").write_bytes(b"new file\n")
    expected2 = tree_digest(src)

    # Before sync, check must notice the differences.
    p = rclone("check", src, remote, check=False)
    assert p.returncode != 0, "rclone check should fail before the sync:\n" + p.stderr_text

    rclone("sync", src, remote)
    rclone("check", src, remote)
    listed = set(rclone("lsf", "-R", "--files-only", remote).stdout_text.splitlines())
    assert listed == set(expected2)

    down = tmp_path / "down"
    rclone("copy", remote, down)
    assert_trees_equal(expected2, tree_digest(down))
    rclone("check", "--download", down, remote)

    # Size reported for the multipart object is exact.
    size = rclone("size", "--json", f"{remote}/multipart").stdout_text
    assert f'"bytes":{12 * MiB + 17}' in size.replace(" ", ""), size

    rclone("purge", f"cairn:{bucket_name}")
    p = rclone("lsf", f"cairn:{bucket_name}", check=False)
    assert p.returncode != 0 or p.stdout_text.strip() == ""
