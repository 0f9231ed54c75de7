"""POST object to a virtual-hosted-style URL: the bucket named by the Host header
(`BUCKET.DOMAIN`, `cairn server --domain DOMAIN`), the form made by boto3's
`generate_presigned_post` with virtual addressing, posted as a browser posts it."""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import ACCESS_KEY, REGION, SECRET_KEY, _start_server, _stop, unique_bucket_name

DOMAIN = "s3.cairn.test"


@pytest.fixture(scope="module")
def vhost_server(tmp_path_factory):
    server = _start_server(tmp_path_factory.mktemp("vhost"),
                           ["--domain", DOMAIN, "--console-listen", "off", "--admin-listen", "off"])
    yield server
    _stop(server.proc)


def test_post_object_virtual_hosted(vhost_server):
    path_style = boto3.client("s3", endpoint_url=vhost_server.endpoint, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name=REGION,
                              config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket = unique_bucket_name("vhost-post")
    path_style.create_bucket(Bucket=bucket)
    virtual = boto3.client("s3", endpoint_url=f"http://{DOMAIN}:{vhost_server.port}",
                           aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                           region_name=REGION,
                           config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    form = virtual.generate_presigned_post(bucket, "forms/${filename}", ExpiresIn=300,
                                           Conditions=[["starts-with", "$key", "forms/"]])
    host = f"{bucket}.{DOMAIN}:{vhost_server.port}"
    assert form["url"] == f"http://{host}/", form["url"]
    body = b"posted to a virtual host\n" * 100
    # The name does not resolve here: connect to the server, name the bucket in Host.
    r = requests.post(f"{vhost_server.endpoint}/", headers={"Host": host}, data=form["fields"],
                      files={"file": ("note.txt", body, "text/plain")}, timeout=30)
    assert r.status_code == 204, r.text
    got = path_style.get_object(Bucket=bucket, Key="forms/note.txt")
    assert got["Body"].read() == body
    # The same form posted path-style to another bucket's host is refused.
    other = f"nope-{bucket}.{DOMAIN}:{vhost_server.port}"
    r = requests.post(f"{vhost_server.endpoint}/", headers={"Host": other}, data=form["fields"],
                      files={"file": ("note.txt", body, "text/plain")}, timeout=30)
    assert r.status_code in (403, 404), r.text
