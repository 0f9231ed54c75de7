"""Cairn as a backup target that ransomware cannot empty, with the real tools backup
admins use: restic on a bucket with object lock and a COMPLIANCE default retention
(forget --prune only writes delete markers; the older versions still restore the
first snapshot, read through rclone's --s3-version-at), rclone --s3-versions, the
AWS CLI's s3api lock and retention round trip, duplicity full + incremental backup
and restore into a versioned bucket, and boto3 refusals of every attempt to shorten
or delete a locked version."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import sys
import time

import pytest
from botocore.exceptions import ClientError

from conftest import MiB, assert_trees_equal, make_tree, run, tree_digest, write_random_file


def _code(excinfo) -> tuple[int, str]:
    err = excinfo.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _tool_env(cairn, tmp_path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": cairn.access_key,
        "AWS_SECRET_ACCESS_KEY": cairn.secret_key,
        "AWS_DEFAULT_REGION": cairn.region,
    }


def _rclone(cairn, tmp_path, *args):
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[cairn]\ntype = s3\nprovider = Other\nenv_auth = false\n"
        f"access_key_id = {cairn.access_key}\nsecret_access_key = {cairn.secret_key}\n"
        f"region = {cairn.region}\nendpoint = {cairn.endpoint}\nforce_path_style = true\n")
    return run(["rclone", "--config", conf, "--retries", "1", *args],
               env=_tool_env(cairn, tmp_path))


def _physical_bytes(cairn) -> int:
    """Bytes of chunk files the server holds (distinct chunks, replication 1)."""
    return sum(p.stat().st_size for p in (cairn.data_dir / "chunks").rglob("*")
               if p.is_file() and len(p.name) == 64)


def _logical_bytes(s3, bucket: str) -> int:
    """Sizes of every version in the bucket added up (what it holds before dedup)."""
    total = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        total += sum(v["Size"] for v in page.get("Versions", []))
    return total


def _restored_root(target: pathlib.Path, src: pathlib.Path) -> pathlib.Path:
    nested = target / src.resolve().relative_to("/")
    return nested if nested.is_dir() else target


def _locked_bucket(s3, name: str, days: int = 1) -> None:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}}})


def test_restic_on_a_compliance_locked_bucket(cairn, s3, bucket_name, tmp_path):
    _locked_bucket(s3, bucket_name)
    env = {**_tool_env(cairn, tmp_path),
           "RESTIC_PASSWORD": "cairn-restic-lock-test",
           "RESTIC_REPOSITORY": f"s3:{cairn.endpoint}/{bucket_name}",
           "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache")}

    def restic(*args, repo=None, timeout=300):
        e = dict(env, **({"RESTIC_REPOSITORY": str(repo)} if repo else {}))
        return run(["restic", *args], env=e, timeout=timeout)

    src = make_tree(tmp_path / "src", files=200, seed=71, big_files=2, big_size=3 * MiB)
    snap1_digest = tree_digest(src)
    physical0 = _physical_bytes(cairn)
    restic("init")
    restic("backup", "--host", "cairn-test", src)
    physical1 = _physical_bytes(cairn)
    logical1 = _logical_bytes(s3, bucket_name)
    print(f"figure: restic snapshot 1 logical bytes {logical1}, "
          f"physical (chunk files) +{physical1 - physical0}")

    # Change 1% of the files (2 of 200), then back up again.
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.stat().st_size < MiB)
    changed = 0
    for p in files[:2]:
        p.write_bytes(p.read_bytes()[::-1] + b"changed\n")
        changed += p.stat().st_size
    restic("backup", "--host", "cairn-test", src)
    physical2 = _physical_bytes(cairn)
    grown = physical2 - physical1
    logical2 = _logical_bytes(s3, bucket_name)
    print(f"figure: restic snapshot 2 logical bytes {logical2} (+{logical2 - logical1}), "
          f"physical +{grown}, for {changed} bytes of changed files")
    # New packs, index and snapshot files; far below a second full copy.
    assert grown < (physical1 - physical0) / 4, (grown, physical1 - physical0)
    time.sleep(1.1)
    before_prune = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.1)

    snaps = sorted(json.loads(restic("snapshots", "--json").stdout_text), key=lambda s: s["time"])
    assert len(snaps) == 2
    restic("forget", "--keep-last", "1", "--prune")
    restic("check")
    # The pruned files are delete markers over versions no key can remove.
    versions = s3.list_object_versions(Bucket=bucket_name)
    markers = versions.get("DeleteMarkers", [])
    assert markers, "forget --prune deleted nothing"
    for m in markers[:5]:
        old = [v for v in versions["Versions"] if v["Key"] == m["Key"]]
        assert old, m
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=bucket_name, Key=m["Key"], VersionId=old[0]["VersionId"],
                             BypassGovernanceRetention=True)
        assert _code(e) == (403, "AccessDenied")

    # The repository as it was before the prune, read from the older versions,
    # restores the first snapshot byte for byte.
    at = before_prune.strftime("%Y-%m-%dT%H:%M:%SZ")
    old_repo = tmp_path / "repo-before-prune"
    _rclone(cairn, tmp_path, "copy", "--s3-version-at", at, f"cairn:{bucket_name}", old_repo)
    target = tmp_path / "restore-first"
    restic("restore", snaps[0]["id"], "--target", target, repo=old_repo)
    assert_trees_equal(snap1_digest, tree_digest(_restored_root(target, src)))


def test_rclone_lists_versions(cairn, s3, bucket_name, tmp_path):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"first", b"second", b"third"):
        s3.put_object(Bucket=bucket_name, Key="doc.txt", Body=body)
    plain = _rclone(cairn, tmp_path, "lsf", f"cairn:{bucket_name}").stdout_text.split()
    assert plain == ["doc.txt"]
    listed = _rclone(cairn, tmp_path, "lsf", "--s3-versions",
                     f"cairn:{bucket_name}").stdout_text.split()
    assert len(listed) == 3, listed
    assert "doc.txt" in listed
    old = sorted(n for n in listed if n != "doc.txt")
    got = _rclone(cairn, tmp_path, "cat", "--s3-versions",
                  f"cairn:{bucket_name}/{old[0]}").stdout_text
    assert got == "first", (old, got)


def test_awscli_lock_and_retention_round_trip(cairn, bucket_name, tmp_path):
    cfg = tmp_path / "aws-config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {**_tool_env(cairn, tmp_path), "AWS_CONFIG_FILE": str(cfg),
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_PAGER": ""}
    cli = [sys.executable, "-m", "awscli", "--endpoint-url", cairn.endpoint]

    def aws(*args):
        out = run([*cli, "--output", "json", "s3api", *args], env=env).stdout_text
        return json.loads(out) if out.strip() else {}

    aws("create-bucket", "--bucket", bucket_name, "--object-lock-enabled-for-bucket")
    assert aws("get-bucket-versioning", "--bucket", bucket_name)["Status"] == "Enabled"
    f = tmp_path / "payload.bin"
    write_random_file(f, 70_000, seed=9)
    until = (datetime.datetime.now(datetime.timezone.utc)
             + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    put = aws("put-object", "--bucket", bucket_name, "--key", "k", "--body", str(f),
              "--object-lock-mode", "GOVERNANCE", "--object-lock-retain-until-date", until)
    version = put["VersionId"]
    got = aws("get-object-retention", "--bucket", bucket_name, "--key", "k",
              "--version-id", version)
    assert got["Retention"]["Mode"] == "GOVERNANCE"
    aws("put-object-legal-hold", "--bucket", bucket_name, "--key", "k", "--version-id", version,
        "--legal-hold", "Status=ON")
    assert aws("get-object-legal-hold", "--bucket", bucket_name, "--key", "k")[
        "LegalHold"]["Status"] == "ON"
    failed = run([*cli, "s3api", "delete-object", "--bucket", bucket_name, "--key", "k",
                  "--version-id", version, "--bypass-governance-retention"],
                 env=env, check=False)
    assert failed.returncode != 0 and "AccessDenied" in failed.stderr_text, failed.stderr_text
    aws("put-object-legal-hold", "--bucket", bucket_name, "--key", "k", "--version-id", version,
        "--legal-hold", "Status=OFF")
    aws("delete-object", "--bucket", bucket_name, "--key", "k", "--version-id", version,
        "--bypass-governance-retention")
    listed = aws("list-object-versions", "--bucket", bucket_name)
    assert not listed.get("Versions") and not listed.get("DeleteMarkers"), listed


def test_locked_versions_refuse_every_shortcut(s3, bucket_name):
    _locked_bucket(s3, bucket_name, days=1)
    v = s3.put_object(Bucket=bucket_name, Key="k", Body=b"backup")["VersionId"]
    head = s3.head_object(Bucket=bucket_name, Key="k", VersionId=v)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket_name,
                                 VersioningConfiguration={"Status": "Suspended"})
    assert _code(e) == (409, "InvalidBucketState")
    shorter = head["ObjectLockRetainUntilDate"] - datetime.timedelta(hours=1)
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=bucket_name, Key="k", VersionId=v,
                                BypassGovernanceRetention=True,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": shorter})
    assert _code(e) == (403, "AccessDenied")
    out = s3.delete_objects(Bucket=bucket_name, BypassGovernanceRetention=True,
                            Delete={"Objects": [{"Key": "k", "VersionId": v}]})
    assert [x["Code"] for x in out.get("Errors", [])] == ["AccessDenied"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket_name)
    assert _code(e) == (409, "BucketNotEmpty")
    assert s3.get_object(Bucket=bucket_name, Key="k", VersionId=v)["Body"].read() == b"backup"


def test_duplicity_full_incremental_restore(cairn, s3, bucket_name, tmp_path):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    env = {**_tool_env(cairn, tmp_path), "PASSPHRASE": "cairn-duplicity-test"}
    url = f"boto3+s3://{bucket_name}/backup"
    opts = ["--s3-endpoint-url", cairn.endpoint, "--s3-region-name", cairn.region,
            "--archive-dir", tmp_path / "dup-archive"]
    src = make_tree(tmp_path / "src", files=60, seed=81, big_files=1, big_size=3 * MiB)
    run(["duplicity", "full", *opts, src, url], env=env)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    files[0].write_bytes(b"changed before the incremental\n")
    files[1].unlink()
    expected = tree_digest(src)
    run(["duplicity", "incremental", *opts, src, url], env=env)
    status = run(["duplicity", "collection-status", *opts, url], env=env).stdout_text
    assert "Full" in status and "Incremental" in status, status
    target = tmp_path / "restored"
    run(["duplicity", "restore", *opts, url, target], env=env)
    assert_trees_equal(expected, tree_digest(target))
    versions = s3.list_object_versions(Bucket=bucket_name, Prefix="backup/")
    assert len(versions["Versions"]) >= 3, versions
