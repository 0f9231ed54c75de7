"""POST object (browser form uploads) with the forms boto3 makes:
`generate_presigned_post` (SigV4) posted with `requests` as a browser posts them,
with `${filename}`, metadata, a content-length-range and success_action_status,
and the refusals of a form that breaks its policy."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import requests


def _post(presigned, data: bytes, filename: str = "photo.jpg", extra=None):
    fields = dict(presigned["fields"])
    fields.update(extra or {})
    files = {"file": (filename, data, "application/octet-stream")}
    return requests.post(presigned["url"], data=fields, files=files, timeout=60)


def test_generate_presigned_post_upload(s3, bucket):
    body = bytes(range(256)) * 400
    presigned = s3.generate_presigned_post(
        bucket, "shop/${filename}",
        Fields={"Content-Type": "image/jpeg", "x-amz-meta-sku": "A-17", "success_action_status": "201"},
        Conditions=[
            ["starts-with", "$key", "shop/"],
            {"Content-Type": "image/jpeg"},
            {"x-amz-meta-sku": "A-17"},
            {"success_action_status": "201"},
            ["content-length-range", 1, 1024 * 1024],
        ],
        ExpiresIn=300,
    )
    r = _post(presigned, body)
    assert r.status_code == 201, r.text
    doc = ET.fromstring(r.text)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Key") == "shop/photo.jpg"
    assert doc.findtext("Bucket") == bucket
    assert doc.findtext("ETag") == f'"{hashlib.md5(body).hexdigest()}"'

    got = s3.get_object(Bucket=bucket, Key="shop/photo.jpg")
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/jpeg"
    assert got["Metadata"] == {"sku": "A-17"}


def test_presigned_post_refusals(s3, bucket):
    presigned = s3.generate_presigned_post(
        bucket, "small/${filename}",
        Conditions=[["content-length-range", 1, 1000]],
        ExpiresIn=300,
    )
    # Too large for the policy's content-length-range.
    r = _post(presigned, b"x" * 5000, filename="big.bin")
    assert r.status_code == 400, r.text
    assert "<Code>EntityTooLarge</Code>" in r.text
    # A field the policy does not name.
    r = _post(presigned, b"x", extra={"x-amz-meta-extra": "1"})
    assert r.status_code == 403, r.text
    assert "Extra input fields" in r.text
    # Another key than the policy's.
    r = _post(presigned, b"x", extra={"key": "elsewhere/x"})
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text
    # A tampered signature.
    fields = dict(presigned["fields"])
    fields["x-amz-signature"] = "0" * 64
    r = requests.post(presigned["url"], data=fields, files={"file": ("f", b"x")}, timeout=60)
    assert r.status_code == 403, r.text
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert listed == []
    # The form as made uploads.
    r = _post(presigned, b"fits")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="small/photo.jpg")["Body"].read() == b"fits"
