"""End-to-end test with restic (Debian's 0.14 package) using cairn as its S3 repository."""

from __future__ import annotations

import json
import pathlib

from conftest import MiB, assert_trees_equal, make_tree, run, tree_digest, write_random_file


def _restored_root(target: pathlib.Path, src: pathlib.Path) -> pathlib.Path:
    """restic restores a snapshot of /abs/src to TARGET/abs/src."""
    nested = target / src.resolve().relative_to("/")
    return nested if nested.is_dir() else target


def test_restic_backup_check_restore(cairn, bucket_name, tmp_path):
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": cairn.access_key,
        "AWS_SECRET_ACCESS_KEY": cairn.secret_key,
        "AWS_DEFAULT_REGION": cairn.region,
        "RESTIC_PASSWORD": "cairn-restic-test-password",
        "RESTIC_REPOSITORY": f"s3:{cairn.endpoint}/{bucket_name}",
        "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache"),
    }

    def restic(*args, check=True, timeout=300):
        return run(["restic", *args],
                   env=env, check=check, timeout=timeout)

    src = make_tree(tmp_path / "src", files=300, seed=42, big_files=3, big_size=2 * MiB + 333)
    write_random_file(src / "deep" / "a" / "b" / "c" / "d" / "large.bin", 5 * MiB + 1, seed=5)
    snap1_digest = tree_digest(src)
    assert len(snap1_digest) >= 300

    restic("init")  # creates the bucket
    restic("backup", "--host", "cairn-test", src)

    # Changes: modify, delete, add files and a directory.
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for p in files[:10]:
        p.write_bytes(p.read_bytes() + b"appended by second backup\n")
    for p in files[10:25]:
        p.unlink()
    make_tree(src / "added-later", files=40, seed=43)
    write_random_file(src / "added-later" / "new-large.bin", 3 * MiB, seed=44)
    snap2_digest = tree_digest(src)

    restic("backup", "--host", "cairn-test", src)

    snaps = json.loads(restic("snapshots", "--json").stdout_text)
    assert len(snaps) == 2, snaps
    snaps.sort(key=lambda s: s["time"])

    restic("check")
    restic("check", "--read-data", timeout=600)

    target = tmp_path / "restore-latest"
    restic("restore", "latest", "--target", target)
    assert_trees_equal(snap2_digest, tree_digest(_restored_root(target, src)))

    target1 = tmp_path / "restore-first"
    restic("restore", snaps[0]["id"], "--target", target1)
    assert_trees_equal(snap1_digest, tree_digest(_restored_root(target1, src)))

    # Forget the first snapshot and prune: the repository must stay consistent.
    restic("forget", snaps[0]["id"], "--prune")
    restic("check", "--read-data", timeout=600)
    target3 = tmp_path / "restore-after-prune"
    restic("restore", "latest", "--target", target3)
    assert_trees_equal(snap2_digest, tree_digest(_restored_root(target3, src)))
