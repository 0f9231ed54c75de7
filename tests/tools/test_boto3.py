"""End-to-end tests with boto3 (default checksum behaviour) against cairn."""

from __future__ import annotations

import hashlib
import io
import urllib.request

import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import MiB, multipart_etag, sha256_file, write_random_file

FORCE_MULTIPART = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                                 max_concurrency=4, use_threads=True)


def test_put_get_list(s3, bucket):
    keys = ["a/1.txt", "a/2.txt", "a/sub/3.txt", "b/4.txt", "top.txt",
            "with space/and+plus=eq&amp", "unicodé/ключ/ファイル.txt"]
    for i, k in enumerate(keys):
        body = f"object {i} {k}\n".encode() * (i + 1)
        r = s3.put_object(Bucket=bucket, Key=k, Body=body)
        assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    for i, k in enumerate(keys):
        body = f"object {i} {k}\n".encode() * (i + 1)
        got = s3.get_object(Bucket=bucket, Key=k)
        assert got["Body"].read() == body
        assert got["ContentLength"] == len(body)

    lst = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in lst["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert lst["KeyCount"] == len(keys) and not lst["IsTruncated"]

    lst = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in lst["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in lst["CommonPrefixes"]] == ["a/sub/"]

    lst = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in lst.get("Contents", [])] == ["top.txt"]
    assert [p["Prefix"] for p in lst["CommonPrefixes"]] == ["a/", "b/", "unicodé/", "with space/"]

    # Pagination with a continuation token.
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kw)
        assert page["KeyCount"] == len(page.get("Contents", [])) <= 2
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys, key=lambda k: k.encode())

    # StartAfter and ListObjects (v1) with a marker.
    lst = s3.list_objects_v2(Bucket=bucket, StartAfter="a/sub/3.txt")
    assert [o["Key"] for o in lst["Contents"]] == sorted(keys, key=lambda k: k.encode())[3:]
    v1 = s3.list_objects(Bucket=bucket, Marker="b/4.txt")
    assert [o["Key"] for o in v1["Contents"]] == sorted(keys, key=lambda k: k.encode())[4:]

    # Buckets listing.
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # Overwrite, then delete.
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"v2")
    assert s3.get_object(Bucket=bucket, Key="top.txt")["Body"].read() == b"v2"
    s3.delete_object(Bucket=bucket, Key="top.txt")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="top.txt")
    assert ei.value.response["Error"]["Code"] == "NoSuchKey"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # Ranged GET.
    s3.put_object(Bucket=bucket, Key="range", Body=bytes(range(256)))
    r = s3.get_object(Bucket=bucket, Key="range", Range="bytes=10-19")
    assert r["Body"].read() == bytes(range(10, 20))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == "bytes 10-19/256"
    r = s3.get_object(Bucket=bucket, Key="range", Range="bytes=-6")
    assert r["Body"].read() == bytes(range(250, 256))


def test_upload_download_file_multipart(s3, bucket, tmp_path):
    src = write_random_file(tmp_path / "src.bin", 25 * MiB, seed=25)
    s3.upload_file(str(src), bucket, "big/file.bin", Config=FORCE_MULTIPART)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == 25 * MiB
    assert head["ETag"] == multipart_etag(src, 5 * MiB)  # 5 parts

    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "big/file.bin", str(dst), Config=FORCE_MULTIPART)
    assert sha256_file(dst) == sha256_file(src)

    # upload_fileobj / download_fileobj with a size that is not a multiple of the part size.
    data = src.read_bytes()[: 13 * MiB + 12345]
    s3.upload_fileobj(io.BytesIO(data), bucket, "big/fileobj.bin", Config=FORCE_MULTIPART)
    buf = io.BytesIO()
    s3.download_fileobj(bucket, "big/fileobj.bin", buf, Config=FORCE_MULTIPART)
    assert hashlib.sha256(buf.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert s3.head_object(Bucket=bucket, Key="big/fileobj.bin")["ContentLength"] == len(data)

    # No multipart uploads left behind.
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_low_level_multipart(s3, bucket):
    parts_data = [b"A" * (5 * MiB), b"B" * (5 * MiB), b"C" * 1000]
    mpu = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ContentType="text/x-parts",
                                     Metadata={"k": "v"})
    uid = mpu["UploadId"]
    ups = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mpu", uid)]
    etags = []
    for n, d in enumerate(parts_data, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key="mpu", UploadId=uid, PartNumber=n, Body=d)["ETag"])
        assert etags[-1] == f'"{hashlib.md5(d).hexdigest()}"'
    listed = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
        (n, e, len(d)) for n, (e, d) in enumerate(zip(etags, parts_data), start=1)]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mpu", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    got = s3.get_object(Bucket=bucket, Key="mpu")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ContentType"] == "text/x-parts" and got["Metadata"] == {"k": "v"}
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert got["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'

    # Abort leaves nothing behind.
    uid2 = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=uid2, PartNumber=1, Body=b"x" * 100)
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=uid2)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="aborted")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="aborted", UploadId=uid2, PartNumber=2, Body=b"y")
    assert ei.value.response["Error"]["Code"] == "NoSuchUpload"


def test_head_object_metadata_round_trip(s3, bucket):
    body = b"metadata body\n" * 50
    s3.put_object(Bucket=bucket, Key="meta/obj", Body=body, ContentType="text/plain; charset=utf-8",
                  Metadata={"foo": "bar", "multi-word-key": "Some Value 123", "empty": ""},
                  CacheControl="max-age=60", ContentDisposition='attachment; filename="x.txt"',
                  ContentLanguage="en")
    head = s3.head_object(Bucket=bucket, Key="meta/obj")
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert head["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert head["Metadata"] == {"foo": "bar", "multi-word-key": "Some Value 123", "empty": ""}
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert head["ContentLanguage"] == "en"
    assert head["LastModified"] is not None

    # CopyObject keeps metadata by default and replaces it with REPLACE.
    s3.copy_object(Bucket=bucket, Key="meta/copy", CopySource={"Bucket": bucket, "Key": "meta/obj"})
    c = s3.head_object(Bucket=bucket, Key="meta/copy")
    assert c["Metadata"] == head["Metadata"] and c["ContentType"] == head["ContentType"]
    assert s3.get_object(Bucket=bucket, Key="meta/copy")["Body"].read() == body
    s3.copy_object(Bucket=bucket, Key="meta/copy2", CopySource={"Bucket": bucket, "Key": "meta/obj"},
                   MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="application/json")
    c2 = s3.head_object(Bucket=bucket, Key="meta/copy2")
    assert c2["Metadata"] == {"new": "yes"} and c2["ContentType"] == "application/json"

    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="meta/missing")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_presigned_urls(s3, bucket):
    body = bytes(range(256)) * 1000
    s3.put_object(Bucket=bucket, Key="pre/signed obj.bin", Body=body)

    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed obj.bin"},
                                    ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == body
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == body

    # Presigned ranged GET (Range header is not signed).
    r = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=30)
    assert r.status_code == 206 and r.content == body[:10]

    # Presigned PUT.
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/put"},
                                        ExpiresIn=300)
    r = requests.put(put_url, data=b"uploaded through presigned PUT", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="pre/put")["Body"].read() == b"uploaded through presigned PUT"

    # A tampered presigned URL (different key) is rejected.
    bad = url.replace("signed%20obj.bin", "other.bin")
    assert bad != url
    r = requests.get(bad, timeout=30)
    assert r.status_code == 403, r.text
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text


def test_delete_objects(s3, bucket):
    for k in ["d/1", "d/2", "d/3", "keep"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/1"}, {"Key": "d/2"},
                                                              {"Key": "d/3"}, {"Key": "d/missing"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d/1", "d/2", "d/3", "d/missing"]
    assert not r.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]


def test_bucket_errors(s3, bucket, bucket_name):
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=bucket_name + "-nope")
    assert ei.value.response["Error"]["Code"] == "NoSuchBucket"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    # Re-creating an owned bucket: 409 BucketAlreadyOwnedByYou, or (us-east-1 legacy) 200
    # as a no-op; either way the contents are kept.
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"x"

    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket)
    assert ei.value.response["Error"]["Code"] == "BucketNotEmpty"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_refused_put_then_more_calls_on_same_client(cairn, bucket):
    """A PUT refused before its body was read (a 1,025-byte key: KeyTooLongError),
    sent with `Expect: 100-continue` (botocore sends it for file-like bodies), does
    not desynchronise the pooled connection: the next calls on the same client
    succeed at once (they used to fail with SignatureDoesNotMatch, or time out).
    No retries, so a misread connection cannot be papered over."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=cairn.endpoint, aws_access_key_id=cairn.access_key,
        aws_secret_access_key=cairn.secret_key, region_name=cairn.region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10,
                      max_pool_connections=1))
    events = []
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **kw: events.append(request.headers.get("Expect")))
    for round_ in range(3):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key="k" * 1025, Body=io.BytesIO(b"x" * 100))
        assert err.value.response["Error"]["Code"] == "KeyTooLongError"
        upload = s3.create_multipart_upload(Bucket=bucket, Key=f"mpu-{round_}")
        s3.abort_multipart_upload(Bucket=bucket, Key=f"mpu-{round_}", UploadId=upload["UploadId"])
        s3.put_object(Bucket=bucket, Key=f"after-{round_}", Body=io.BytesIO(b"y" * 4096))
        assert s3.get_object(Bucket=bucket, Key=f"after-{round_}")["Body"].read() == b"y" * 4096
    assert events and all(e in (b"100-continue", "100-continue") for e in events), events
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["after-0", "after-1", "after-2"]
