"""Bad input over raw HTTP.

Requests are signed with botocore's own SigV4 signer so that only the thing
under test is wrong; every test asserts the HTTP status, the S3 XML error
<Code>, and that the stored data is untouched afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import quote

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNED_STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# ---------------------------------------------------------------------------
# signing helpers
# ---------------------------------------------------------------------------


class _Signer(S3SigV4Auth):
    """botocore's S3 SigV4 signer with an explicit x-amz-content-sha256 value."""

    def __init__(self, credentials, region, payload_hash):
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash


class Signed:
    """A request signed by botocore: `.url`, `.headers`, `.body`, plus what is
    needed to sign aws-chunked chunks (`.timestamp`, `.scope`, `.seed_signature`)."""

    def __init__(self, server, method, path, *, query="", headers=None, body=b"",
                 payload_hash=None, access_key=None, secret_key=None, region=None):
        self.server = server
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.access_key = access_key or server.access_key
        self.secret_key = secret_key or server.secret_key
        self.region = region or server.region
        url = server.endpoint + path + (f"?{query}" if query else "")
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        if payload_hash is None:
            payload_hash = hashlib.sha256(body).hexdigest()
        signer = _Signer(Credentials(self.access_key, self.secret_key), self.region, payload_hash)
        signer.add_auth(req)
        self.url = url
        self.headers = {k: v for k, v in req.headers.items()}
        self.timestamp = req.context["timestamp"]
        self.scope = f"{self.timestamp[:8]}/{self.region}/s3/aws4_request"
        self.seed_signature = self.headers["Authorization"].rsplit("Signature=", 1)[1]

    def send(self, **kw) -> requests.Response:
        return requests.request(self.method, self.url, headers=self.headers, data=self.body,
                                timeout=60, allow_redirects=False, **kw)

    def signing_key(self) -> bytes:
        k = hmac.new(f"AWS4{self.secret_key}".encode(), self.timestamp[:8].encode(), hashlib.sha256).digest()
        for part in (self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        return k


def raw_http(server, method, target, headers, body: bytes, *, half_close=True, timeout=15.0):
    """Send an HTTP/1.1 request byte for byte over a socket, then (optionally)
    close our sending side.  Returns (status or None, raw response bytes)."""
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        head = f"{method} {target} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += "Connection: close\r\n\r\n"
        try:
            s.sendall(head.encode() + body)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may already have given up on us
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        resp = b"".join(chunks)
    finally:
        s.close()
    status = None
    if resp.startswith(b"HTTP/1."):
        try:
            status = int(resp.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = None
    return status, resp


def aws_chunked_signed(signed: Signed, chunks: list[bytes]) -> bytes:
    """Encode `chunks` (plus the final empty chunk) as a signed aws-chunked body."""
    key = signed.signing_key()
    prev = signed.seed_signature
    out = []
    for chunk in list(chunks) + [b""]:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signed.timestamp, signed.scope, prev,
                         EMPTY_SHA256, hashlib.sha256(chunk).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out.append(f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n")
        prev = sig
    return b"".join(out)


def aws_chunked_signed_len(sizes: list[int]) -> int:
    return sum(len(f"{n:x}") + len(";chunk-signature=") + 64 + 2 + n + 2 for n in list(sizes) + [0])


def aws_chunked_unsigned_trailer(chunks: list[bytes]) -> bytes:
    crc = zlib.crc32(b"".join(chunks)).to_bytes(4, "big")
    out = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks]
    out.append(b"0\r\n" + b"x-amz-checksum-crc32:" + base64.b64encode(crc) + b"\r\n\r\n")
    return b"".join(out)


def error_code(resp_body: bytes) -> str | None:
    try:
        root = ET.fromstring(resp_body)
    except ET.ParseError:
        return None
    if root.tag.split("}")[-1] != "Error":
        return None
    code = root.find("Code")
    if code is None:
        code = root.find("{*}Code")
    return code.text if code is not None else None


def assert_s3_error(r: requests.Response, status: int, code: str):
    assert r.status_code == status and error_code(r.content) == code, (
        f"expected HTTP {status} <Code>{code}</Code>, got HTTP {r.status_code}: {r.text[:2000]!r}"
    )
    # (<Message> presence is checked separately in test_error_documents_have_message.)


def head_status(s3, bucket, key) -> int:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return 200
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def get_bytes(s3, bucket, key) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def qkey(key: str) -> str:
    return quote(key, safe="/-_.~")


# ---------------------------------------------------------------------------
# MalformedXML
# ---------------------------------------------------------------------------

MALFORMED_BODIES = {
    "truncated": b'<?xml version="1.0" encoding="UTF-8"?><Delete><Object><Key>keep</Key></Object>',
    "garbage": b"this is definitely not xml",
    "unclosed-tag": b"<Delete><Object><Key>keep</Key></Object></Delete",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED_BODIES))
def test_delete_objects_malformed_xml(cairn, s3, bucket, kind):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"precious")
    body = MALFORMED_BODIES[kind]
    req = Signed(cairn, "POST", f"/{bucket}", query="delete=", body=body,
                 headers={"Content-MD5": b64md5(body), "Content-Type": "application/xml"})
    assert_s3_error(req.send(), 400, "MalformedXML")
    assert get_bytes(s3, bucket, "keep") == b"precious"

    # Control: the same request with well-formed XML deletes the object.
    good = b"<Delete><Object><Key>keep</Key></Object></Delete>"
    req = Signed(cairn, "POST", f"/{bucket}", query="delete=", body=good,
                 headers={"Content-MD5": b64md5(good), "Content-Type": "application/xml"})
    r = req.send()
    assert r.status_code == 200, r.text
    assert head_status(s3, bucket, "keep") == 404


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_complete_multipart_malformed_xml(cairn, s3, bucket, kind):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=uid, PartNumber=1, Body=b"part one")["ETag"]
    body = {
        "truncated": f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>".encode(),
        "garbage": b"{not: xml}",
    }[kind]
    req = Signed(cairn, "POST", f"/{bucket}/mpu", query=f"uploadId={quote(uid, safe='-_.~')}", body=body,
                 headers={"Content-Type": "application/xml"})
    assert_s3_error(req.send(), 400, "MalformedXML")

    # Nothing was created and the upload is still intact.
    assert head_status(s3, bucket, "mpu") == 404
    parts = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, etag)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert get_bytes(s3, bucket, "mpu") == b"part one"


# ---------------------------------------------------------------------------
# Names and keys
# ---------------------------------------------------------------------------

BAD_BUCKET_NAMES = ["ab", "a" * 64, "UpperCase", "under_score", "-leading-dash", "trailing-dash-",
                    "two..dots", "192.168.5.4"]


@pytest.mark.parametrize("name", BAD_BUCKET_NAMES)
def test_create_bucket_invalid_name(cairn, s3, name):
    r = Signed(cairn, "PUT", f"/{name}").send()
    assert_s3_error(r, 400, "InvalidBucketName")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("key", ["k" * 1025, "é" * 513, "dir/" * 256 + "x"],
                         ids=["1025-ascii", "1026-bytes-utf8", "1025-with-slashes"])
def test_key_too_long(cairn, s3, bucket, key):
    assert len(key.encode()) > 1024
    body = b"should not be stored"
    r = Signed(cairn, "PUT", f"/{bucket}/{qkey(key)}", body=body).send()
    assert_s3_error(r, 400, "KeyTooLongError")
    assert not s3.list_objects_v2(Bucket=bucket).get("Contents")

    # Control: exactly 1024 bytes is accepted.
    ok_key = "k" * 1024
    r = Signed(cairn, "PUT", f"/{bucket}/{ok_key}", body=body).send()
    assert r.status_code == 200, r.text
    assert get_bytes(s3, bucket, ok_key) == body


# ---------------------------------------------------------------------------
# Ranges and digests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("rng", ["bytes=100-200", "bytes=500-", "bytes=100-100"])
def test_invalid_range(cairn, s3, bucket, rng):
    data = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="hundred", Body=data)
    r = Signed(cairn, "GET", f"/{bucket}/hundred", headers={"Range": rng}).send()
    assert_s3_error(r, 416, "InvalidRange")
    # Control: a satisfiable range.
    r = Signed(cairn, "GET", f"/{bucket}/hundred", headers={"Range": "bytes=90-"}).send()
    assert r.status_code == 206 and r.content == data[90:]
    assert get_bytes(s3, bucket, "hundred") == data


def test_wrong_content_md5(cairn, s3, bucket):
    body = b"the real body"
    wrong = b64md5(b"something else")

    r = Signed(cairn, "PUT", f"/{bucket}/new", body=body, headers={"Content-MD5": wrong}).send()
    assert_s3_error(r, 400, "BadDigest")
    assert head_status(s3, bucket, "new") == 404

    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    r = Signed(cairn, "PUT", f"/{bucket}/existing", body=body, headers={"Content-MD5": wrong}).send()
    assert_s3_error(r, 400, "BadDigest")
    assert get_bytes(s3, bucket, "existing") == b"old content"

    # Also for UploadPart: the part is not recorded.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    r = Signed(cairn, "PUT", f"/{bucket}/mp", query=f"partNumber=1&uploadId={quote(uid, safe='-_.~')}",
               body=body, headers={"Content-MD5": wrong}).send()
    assert_s3_error(r, 400, "BadDigest")
    assert not s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid).get("Parts")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)

    # Control: the right digest is accepted.
    r = Signed(cairn, "PUT", f"/{bucket}/existing", body=body, headers={"Content-MD5": b64md5(body)}).send()
    assert r.status_code == 200, r.text
    assert get_bytes(s3, bucket, "existing") == body


def test_wrong_checksum_crc32_header(cairn, s3, bucket):
    body = b"crc body"
    wrong = base64.b64encode(zlib.crc32(b"not the body").to_bytes(4, "big")).decode()
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    r = Signed(cairn, "PUT", f"/{bucket}/existing", body=body, headers={"x-amz-checksum-crc32": wrong}).send()
    assert_s3_error(r, 400, "BadDigest")
    assert get_bytes(s3, bucket, "existing") == b"old content"
    right = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    r = Signed(cairn, "PUT", f"/{bucket}/existing", body=body, headers={"x-amz-checksum-crc32": right}).send()
    assert r.status_code == 200, r.text
    assert get_bytes(s3, bucket, "existing") == body


def test_payload_sha256_mismatch(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    req = Signed(cairn, "PUT", f"/{bucket}/existing", body=b"new content",
                 payload_hash=hashlib.sha256(b"other content").hexdigest())
    assert_s3_error(req.send(), 400, "XAmzContentSHA256Mismatch")
    assert get_bytes(s3, bucket, "existing") == b"old content"


# ---------------------------------------------------------------------------
# aws-chunked bodies
# ---------------------------------------------------------------------------

CHUNK = 64 * 1024


def _chunks(n: int, seed: int) -> list[bytes]:
    return [bytes([(seed + i) % 251]) * CHUNK for i in range(n)]


def _signed_streaming(cairn, path, chunks, *, declared_decoded=None):
    sizes = [len(c) for c in chunks]
    decoded = sum(sizes) if declared_decoded is None else declared_decoded
    req = Signed(cairn, "PUT", path, payload_hash=SIGNED_STREAMING, headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(decoded),
        "Content-Length": str(aws_chunked_signed_len(sizes)),
    })
    return req, aws_chunked_signed(req, chunks)


def _unsigned_trailer(cairn, path, chunks, *, declared_decoded=None):
    body = aws_chunked_unsigned_trailer(chunks)
    decoded = sum(len(c) for c in chunks) if declared_decoded is None else declared_decoded
    req = Signed(cairn, "PUT", path, payload_hash=UNSIGNED_TRAILER, headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(decoded),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "Content-Length": str(len(body)),
    })
    return req, body


def _send(cairn, req: Signed, body: bytes, *, half_close):
    headers = {k: v for k, v in req.headers.items()}
    headers.setdefault("Host", cairn.addr)
    return raw_http(cairn, req.method, req.path + (f"?{req.query}" if req.query else ""), headers, body,
                    half_close=half_close)


def test_aws_chunked_encoder_matches_aws_documented_example():
    """Self-check of this file's chunk signer against the example in the AWS docs
    ("Signature Calculations for the Authorization Header: Transferring Payload in
    Multiple Chunks"), so a failing streaming test cannot be blamed on the encoder."""

    class Example:
        secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        region = "us-east-1"
        timestamp = "20130524T000000Z"
        scope = "20130524/us-east-1/s3/aws4_request"
        seed_signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        signing_key = Signed.signing_key

    body = aws_chunked_signed(Example(), [b"a" * 65536, b"a" * 1024])
    sigs = [line.split(b"chunk-signature=")[1].decode() for line in body.split(b"\r\n") if b"chunk-signature=" in line]
    assert sigs == ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
    assert len(body) == aws_chunked_signed_len([65536, 1024]) == 66824


@pytest.mark.parametrize("encoding", ["signed", "unsigned-trailer"])
def test_aws_chunked_complete_control(cairn, s3, bucket, encoding):
    """Control for the truncation tests: the same encoder with a complete body works."""
    chunks = _chunks(3, seed=1) + [b"tail bytes"]
    make = _signed_streaming if encoding == "signed" else _unsigned_trailer
    req, body = make(cairn, f"/{bucket}/complete", chunks)
    status, resp = _send(cairn, req, body, half_close=False)
    assert status == 200, resp[:2000]
    assert get_bytes(s3, bucket, "complete") == b"".join(chunks)


@pytest.mark.parametrize("existing", [False, True], ids=["new-key", "overwrite"])
@pytest.mark.parametrize("encoding", ["signed", "unsigned-trailer"])
def test_aws_chunked_truncated_connection_closed(cairn, s3, bucket, encoding, existing):
    if existing:
        s3.put_object(Bucket=bucket, Key="obj", Body=b"previous content")
    chunks = _chunks(4, seed=2)
    make = _signed_streaming if encoding == "signed" else _unsigned_trailer
    req, body = make(cairn, f"/{bucket}/obj", chunks)
    # Send the first chunk and half of the second one, then close our side.
    cut = len(body) * 3 // 8
    status, resp = _send(cairn, req, body[:cut], half_close=True)
    assert status is None or status >= 400, resp[:2000]
    time.sleep(0.5)
    if existing:
        assert get_bytes(s3, bucket, "obj") == b"previous content"
    else:
        assert head_status(s3, bucket, "obj") == 404
        assert not s3.list_objects_v2(Bucket=bucket).get("Contents")


@pytest.mark.parametrize("existing", [False, True], ids=["new-key", "overwrite"])
@pytest.mark.parametrize("encoding", ["signed", "unsigned-trailer"])
def test_aws_chunked_decoded_length_larger_than_body(cairn, s3, bucket, encoding, existing):
    """A well-formed chunk stream that ends early: fewer bytes than x-amz-decoded-content-length."""
    if existing:
        s3.put_object(Bucket=bucket, Key="obj", Body=b"previous content")
    chunks = _chunks(2, seed=3)
    make = _signed_streaming if encoding == "signed" else _unsigned_trailer
    req, body = make(cairn, f"/{bucket}/obj", chunks, declared_decoded=4 * CHUNK)
    status, resp = _send(cairn, req, body, half_close=False)
    assert status == 400, resp[:2000]
    if existing:
        assert get_bytes(s3, bucket, "obj") == b"previous content"
    else:
        assert head_status(s3, bucket, "obj") == 404


def test_aws_chunked_bad_chunk_signature(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"previous content")
    chunks = _chunks(2, seed=4)
    req, body = _signed_streaming(cairn, f"/{bucket}/obj", chunks)
    # Corrupt one byte of the second chunk's data; its signature no longer matches.
    hlen = len(f"{CHUNK:x};chunk-signature=") + 64 + 2
    pos = hlen + CHUNK + 2 + hlen + 100
    corrupted = body[:pos] + bytes([body[pos] ^ 0xFF]) + body[pos + 1:]
    assert len(corrupted) == len(body) and corrupted != body
    status, resp = _send(cairn, req, corrupted, half_close=False)
    assert status == 403 and error_code(resp.split(b"\r\n\r\n", 1)[-1]) == "SignatureDoesNotMatch", resp[:2000]
    assert get_bytes(s3, bucket, "obj") == b"previous content"


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------


def test_bad_signature(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")

    req = Signed(cairn, "PUT", f"/{bucket}/new", body=b"data")
    sig = req.headers["Authorization"][-1]
    req.headers["Authorization"] = req.headers["Authorization"][:-1] + ("0" if sig != "0" else "1")
    assert_s3_error(req.send(), 403, "SignatureDoesNotMatch")
    assert head_status(s3, bucket, "new") == 404

    # Wrong secret key for a known access key.
    req = Signed(cairn, "PUT", f"/{bucket}/existing", body=b"new content", secret_key="wrong-secret")
    assert_s3_error(req.send(), 403, "SignatureDoesNotMatch")
    assert get_bytes(s3, bucket, "existing") == b"old content"

    # Signed correctly, then a signed header altered in transit.
    req = Signed(cairn, "PUT", f"/{bucket}/existing", body=b"new content",
                 headers={"Content-Type": "text/plain"})
    req.headers["Content-Type"] = "text/html"
    assert_s3_error(req.send(), 403, "SignatureDoesNotMatch")
    assert get_bytes(s3, bucket, "existing") == b"old content"

    # Wrong signature on a read is rejected too.
    req = Signed(cairn, "GET", f"/{bucket}/existing", secret_key="wrong-secret")
    assert_s3_error(req.send(), 403, "SignatureDoesNotMatch")

    # Control: the same request signed properly succeeds.
    req = Signed(cairn, "PUT", f"/{bucket}/existing", body=b"new content")
    assert req.send().status_code == 200
    assert get_bytes(s3, bucket, "existing") == b"new content"


def test_unknown_access_key(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    for method, key, body in [("PUT", "new", b"x"), ("PUT", "existing", b"y"), ("GET", "existing", b""),
                              ("DELETE", "existing", b"")]:
        req = Signed(cairn, method, f"/{bucket}/{key}", body=body,
                     access_key="AKIAUNKNOWNUNKNOWN00", secret_key="whatever")
        assert_s3_error(req.send(), 403, "InvalidAccessKeyId")
    r = Signed(cairn, "GET", "/", access_key="AKIAUNKNOWNUNKNOWN00", secret_key="whatever").send()
    assert_s3_error(r, 403, "InvalidAccessKeyId")
    assert head_status(s3, bucket, "new") == 404
    assert get_bytes(s3, bucket, "existing") == b"old content"


def test_expired_presigned_url(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"secret content")
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=1)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=1)
    time.sleep(2.5)
    r = requests.get(get_url, timeout=30)
    assert_s3_error(r, 403, "AccessDenied")
    assert b"secret content" not in r.content
    r = requests.put(put_url, data=b"overwritten", timeout=30)
    assert_s3_error(r, 403, "AccessDenied")
    assert get_bytes(s3, bucket, "obj") == b"secret content"

    # Control: a fresh URL works.
    ok = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=300)
    r = requests.get(ok, timeout=30)
    assert r.status_code == 200 and r.content == b"secret content"


def test_anonymous_requests_denied(cairn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"private")
    base = cairn.endpoint
    cases = [
        ("GET", f"{base}/{bucket}/obj", None),
        ("HEAD", f"{base}/{bucket}/obj", None),
        ("PUT", f"{base}/{bucket}/obj", b"anonymous overwrite"),
        ("PUT", f"{base}/{bucket}/anon-new", b"anonymous"),
        ("DELETE", f"{base}/{bucket}/obj", None),
        ("GET", f"{base}/{bucket}", None),
        ("GET", f"{base}/{bucket}?list-type=2", None),
        ("GET", f"{base}/", None),
        ("PUT", f"{base}/anon-bucket-{bucket[-12:]}", None),
        ("DELETE", f"{base}/{bucket}", None),
    ]
    for method, url, body in cases:
        r = requests.request(method, url, data=body, timeout=30)
        if method == "HEAD":
            assert r.status_code == 403, (method, url, r.status_code)
        else:
            assert r.status_code == 403 and error_code(r.content) == "AccessDenied", (
                method, url, r.status_code, r.text[:500])
    assert get_bytes(s3, bucket, "obj") == b"private"
    assert head_status(s3, bucket, "anon-new") == 404
    assert f"anon-bucket-{bucket[-12:]}" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_error_documents_have_message(cairn, s3, bucket):
    """Every error is a full S3 error document: <Error><Code/><Message/>...</Error>."""
    s3.put_object(Bucket=bucket, Key="hundred", Body=bytes(100))
    cases = {
        "NoSuchKey": Signed(cairn, "GET", f"/{bucket}/missing").send(),
        "NoSuchBucket": Signed(cairn, "GET", f"/{bucket}-missing").send(),
        "InvalidBucketName": Signed(cairn, "PUT", "/Bad_Name").send(),
        "KeyTooLongError": Signed(cairn, "PUT", f"/{bucket}/{'k' * 1025}", body=b"x").send(),
        "InvalidRange": Signed(cairn, "GET", f"/{bucket}/hundred", headers={"Range": "bytes=200-"}).send(),
        "MalformedXML": Signed(cairn, "POST", f"/{bucket}", query="delete=", body=b"<Delete>",
                               headers={"Content-MD5": b64md5(b"<Delete>")}).send(),
        "InvalidAccessKeyId": Signed(cairn, "GET", "/", access_key="AKIAUNKNOWNUNKNOWN00").send(),
        "SignatureDoesNotMatch": Signed(cairn, "GET", "/", secret_key="wrong").send(),
        "AccessDenied": requests.get(f"{cairn.endpoint}/{bucket}/hundred", timeout=30),
    }
    problems = []
    for code, r in cases.items():
        try:
            root = ET.fromstring(r.content)
        except ET.ParseError:
            problems.append(f"{code}: HTTP {r.status_code}, body is not XML: {r.content[:200]!r}")
            continue
        msg = root.find("Message")
        if root.tag != "Error" or error_code(r.content) != code or msg is None or not (msg.text or "").strip():
            problems.append(f"{code}: HTTP {r.status_code} {r.content[:300]!r}")
    assert not problems, "error documents without <Code>/<Message>:\n" + "\n".join(problems)
