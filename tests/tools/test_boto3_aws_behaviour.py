"""boto3 against the places where Cairn used to answer differently from AWS:
DeleteBucket with only multipart uploads left, listing (encoding-type=url,
max-keys=0, empty delimiter, owners), paginated ListBuckets, reads by part
number, GetObjectAttributes and full-object multipart checksums."""

from __future__ import annotations

import base64
import zlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import MiB, unique_bucket_name, write_random_file

SPLIT = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                       max_concurrency=2, use_threads=True)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_delete_bucket_with_only_uploads(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="left/behind")
    s3.upload_part(Bucket=bucket, Key="left/behind", UploadId=up["UploadId"], PartNumber=1,
                   Body=b"x" * 1000)
    s3.create_multipart_upload(Bucket=bucket, Key="another")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as ei:
        s3.list_multipart_uploads(Bucket=bucket)
    assert ei.value.response["Error"]["Code"] == "NoSuchBucket"


def test_listing_url_encoding_and_edges(s3, bucket):
    keys = ["dir one/a+b", "dir one/100%.csv", "x~y_z.-*", "ключ/v"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    # botocore asks for encoding-type=url itself (unless told otherwise) and decodes
    # Key, Prefix, Delimiter, StartAfter and CommonPrefixes with unquote_plus.
    lst = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in lst["Contents"]] == sorted(keys, key=str.encode)
    lst = s3.list_objects_v2(Bucket=bucket, Delimiter="/", StartAfter="a b")
    assert [p["Prefix"] for p in lst["CommonPrefixes"]] == ["dir one/", "ключ/"]
    assert lst["Delimiter"] == "/" and lst["StartAfter"] == "a b"
    # Asked for explicitly, the values come back as the server encoded them.
    raw = s3.list_objects_v2(Bucket=bucket, Prefix="dir one/", EncodingType="url")
    assert [o["Key"] for o in raw["Contents"]] == ["dir%20one/100%25.csv", "dir%20one/a%2Bb"]
    assert raw["Prefix"] == "dir%20one/"
    v1 = s3.list_objects(Bucket=bucket, Prefix="dir one/")
    assert [o["Key"] for o in v1["Contents"]] == ["dir one/100%.csv", "dir one/a+b"]
    # S3 encodes V1's Prefix too; botocore decodes only Delimiter, Marker, NextMarker,
    # Key and CommonPrefixes of V1, so the request's Prefix comes back encoded.
    assert v1["Prefix"] == "dir%20one/"

    zero = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert zero["IsTruncated"] is False and "Contents" not in zero and zero["KeyCount"] == 0
    zero = s3.list_objects(Bucket=bucket, MaxKeys=0)
    assert zero["IsTruncated"] is False and "Contents" not in zero

    flat = s3.list_objects_v2(Bucket=bucket, Delimiter="")
    assert "Delimiter" not in flat and "CommonPrefixes" not in flat
    assert len(flat["Contents"]) == len(keys)

    owned = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    assert all(o["Owner"]["ID"] for o in owned["Contents"])
    assert all("Owner" not in o for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert all(o["Owner"]["ID"] for o in s3.list_objects(Bucket=bucket)["Contents"])


def test_list_buckets_paginator(s3):
    prefix = unique_bucket_name("lbp")[:20]
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        s3.create_bucket(Bucket=n)
    pages = list(s3.get_paginator("list_buckets").paginate(
        Prefix=prefix, PaginationConfig={"PageSize": 2}))
    assert [len(p["Buckets"]) for p in pages] == [2, 2, 1]
    assert [b["Name"] for p in pages for b in p["Buckets"]] == names
    assert all(p["Prefix"] == prefix for p in pages)
    for n in names:
        s3.delete_bucket(Bucket=n)


def test_part_number_reads_and_attributes(s3, bucket, tmp_path):
    src = write_random_file(tmp_path / "src.bin", 11 * MiB + 5, seed=12)
    data = src.read_bytes()
    s3.upload_file(str(src), bucket, "mp", Config=SPLIT)
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ETag"].endswith('-3"')

    part2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert part2["Body"].read() == data[5 * MiB:10 * MiB]
    assert part2["ContentRange"] == f"bytes {5 * MiB}-{10 * MiB - 1}/{len(data)}"
    assert part2["PartsCount"] == 3 and part2["ETag"] == head["ETag"]
    assert part2["ResponseMetadata"]["HTTPStatusCode"] == 206
    h3 = s3.head_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert h3["ContentLength"] == 1 * MiB + 5 and h3["PartsCount"] == 3
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=4)
    assert ei.value.response["Error"]["Code"] == "InvalidPartNumber"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416

    s3.put_object(Bucket=bucket, Key="one", Body=b"whole")
    assert s3.get_object(Bucket=bucket, Key="one", PartNumber=1)["Body"].read() == b"whole"

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="mp", MaxParts=2,
        ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    assert attrs["ObjectSize"] == len(data)
    assert attrs["StorageClass"] == "STANDARD"
    assert attrs["ETag"].strip('"') == head["ETag"].strip('"')
    parts = attrs["ObjectParts"]
    assert parts["TotalPartsCount"] == 3 and parts["IsTruncated"] is True
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, 5 * MiB), (2, 5 * MiB)]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=parts["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["ObjectParts"]["Parts"]] == [3]
    # boto3's own split upload carries a CRC32 (composite) checksum.
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert attrs["Checksum"]["ChecksumCRC32"].endswith("-3")


def test_upload_file_full_object_crc32(s3, bucket, tmp_path):
    src = write_random_file(tmp_path / "full.bin", 12 * MiB + 321, seed=13)
    full = crc32_b64(src.read_bytes())
    # Given the whole file's CRC, s3transfer asks for a FULL_OBJECT checksum.
    s3.upload_file(str(src), bucket, "full", Config=SPLIT, ExtraArgs={"ChecksumCRC32": full})
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    assert head["ChecksumCRC32"] == full
    assert head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == src.read_bytes()  # botocore validates the CRC32 too

    # A wrong whole-file CRC is refused at completion.
    with pytest.raises(Exception) as ei:
        s3.upload_file(str(src), bucket, "wrong", Config=SPLIT,
                       ExtraArgs={"ChecksumCRC32": crc32_b64(b"other")})
    assert "BadDigest" in str(ei.value)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="wrong")
