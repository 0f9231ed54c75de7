"""What Cairn does not keep is refused with boto3, as a backup tool would ask for it:
object lock on a bucket created without it, server-side encryption, other storage
classes, public object ACLs on a bucket whose ACLs are disabled (new buckets:
BucketOwnerEnforced), unevaluated bucket policies. Each refusal leaves nothing
behind."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.exceptions import ClientError


def _code(excinfo) -> tuple[int, str]:
    err = excinfo.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _absent(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert _code(e)[0] == 404


def test_locked_encrypted_or_cold_puts_are_refused(s3, bucket):
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)
    cases = [
        (dict(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until), (400, "InvalidRequest")),
        (dict(ObjectLockLegalHoldStatus="ON"), (400, "InvalidRequest")),
        (dict(ServerSideEncryption="AES256"), (501, "NotImplemented")),
        (dict(ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/backup"), (501, "NotImplemented")),
        (dict(StorageClass="GLACIER"), (400, "InvalidStorageClass")),
        (dict(StorageClass="STANDARD_IA"), (400, "InvalidStorageClass")),
        (dict(ACL="public-read"), (400, "AccessControlListNotSupported")),
        (dict(ACL="log-delivery-write"), (501, "NotImplemented")),
        (dict(GrantRead='emailAddress="ops@example.com"'), (400, "UnresolvableGrantByEmailAddress")),
        (dict(WebsiteRedirectLocation="/other"), (501, "NotImplemented")),
    ]
    for extra, want in cases:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="backup.tar", Body=b"data", **extra)
        assert _code(e) == want, extra
        _absent(s3, bucket, "backup.tar")
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="big.tar", ObjectLockMode="GOVERNANCE",
                                   ObjectLockRetainUntilDate=until)
    assert _code(e) == (400, "InvalidRequest")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert _code(e) == (501, "NotImplemented")
    # Object lock needs versioning enabled first.
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert _code(e) == (409, "InvalidBucketState")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_unevaluated_policies_are_refused_and_deny_is_enforced(s3, bucket):
    service = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(service))
    assert _code(e) == (501, "NotImplemented")
    for bad in ('{"Statement":42}', json.dumps({"Statement": [{
            "Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}]})):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert _code(e) == (400, "MalformedPolicy")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert _code(e) == (404, "NoSuchBucketPolicy")
    # A Deny is stored and enforced, even against the admin key.
    deny = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="kept")
    assert _code(e) == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="kept")
