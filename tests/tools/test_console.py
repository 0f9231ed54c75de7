"""The web console of `cairn server` in headless Chromium: log in (a wrong
secret is refused in plain words), create buckets, upload files through the
page's file input (one of them multipart), see them listed, download one
byte-identical, share a presigned link and fetch it anonymously, read and set
metadata and tags, delete, create a key for an app limited to one bucket (and
check with boto3 that it works there only), the cluster page with its charts,
and the pages on a phone-sized screen. Screenshots: target/test-logs/console/."""

from __future__ import annotations

import hashlib
import os
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY, MiB, _free_port, _start_server, _stop
from conftest import unique_bucket_name, write_random_file
from console_helpers import banner_error, chrome, css, login, no_error, shot, wait_for


def client(endpoint, access, secret):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                        aws_secret_access_key=secret, region_name=REGION,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 2}))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    console = f"127.0.0.1:{_free_port()}"
    server = _start_server(root, ["--console-listen", console, "--console-sample-secs", "1",
                                  "--admin-listen", f"127.0.0.1:{_free_port()}"])
    wait_for("the console", lambda: requests.get(f"http://{console}/", timeout=2).ok)
    downloads = root / "downloads"
    downloads.mkdir()
    driver = chrome(downloads, root / "chromedriver.log")
    token = (server.data_dir / "admin.token").read_text().strip()
    state = {"server": server, "base": f"http://{console}", "driver": driver, "downloads": downloads,
             "token": token, "root": root, "s3": client(server.endpoint, ACCESS_KEY, SECRET_KEY),
             "bucket": unique_bucket_name("console")}
    yield state
    driver.quit()
    _stop(server.proc)


def test_page_is_self_contained(env):
    base = env["base"]
    r = requests.get(base + "/", timeout=5)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http://" not in r.text.replace('xmlns="http://www.w3.org', "") and "https://" not in r.text
    for name in ("sigv4.js", "api.js", "app.js", "pages.js", "browser.js", "charts.js", "console.css"):
        assert requests.get(f"{base}/assets/{name}", timeout=5).status_code == 200, name
    assert requests.get(f"{base}/assets/nope.js", timeout=5).status_code == 404
    # The admin API behind the console wants the token; /s3/ forwards to S3 (refused unsigned).
    assert requests.get(f"{base}/api/v1/keys", timeout=5).status_code == 401
    r = requests.get(f"{base}/s3/", timeout=5)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, r.text


def test_login_refused_in_plain_words(env):
    d = env["driver"]
    login(d, env["base"], ACCESS_KEY, "not-the-secret")
    err = wait_for("the login error", lambda: css(d, "#login-error")[0].text)
    assert "SignatureDoesNotMatch" in err, err
    login(d, env["base"], token="wrong-token-wrong-token")
    err = wait_for("the login error", lambda: "token" in css(d, "#login-error")[0].text and css(d, "#login-error")[0].text)
    assert "Unauthorized" in err, err
    shot(d, "login")


def test_login_and_create_bucket(env):
    d, s3, bucket = env["driver"], env["s3"], env["bucket"]
    login(d, env["base"], ACCESS_KEY, SECRET_KEY, env["token"])
    wait_for("the buckets page", lambda: css(d, "#create-bucket-form"))
    css(d, "#new-bucket-name")[0].send_keys(bucket)
    css(d, "#new-bucket-versioning")[0].click()
    css(d, "#create-bucket")[0].click()
    row_text = lambda: css(d, f'tr[data-bucket="{bucket}"]')[0].text  # noqa: E731 (re-rendered on refresh)
    wait_for("the new bucket's row with its versioning state", lambda: "Enabled" in row_text())
    no_error(d)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # A bad name: the S3 error, in plain words.
    css(d, "#new-bucket-name")[0].send_keys("Not_A_Valid_Name")
    css(d, "#create-bucket")[0].click()
    err = wait_for("the error banner", lambda: banner_error(d))
    assert "InvalidBucketName" in err, err
    s3.put_object(Bucket=bucket, Key="docs/readme.txt", Body=b"hello")
    d.refresh()
    cells = lambda: [c.text for c in css(d, f'tr[data-bucket="{bucket}"] td')]  # noqa: E731
    wait_for("object count and size", lambda: cells()[1:3] == ["1", "5 B"])
    shot(d, "buckets")


def test_upload_list_download_share(env):
    d, s3, bucket, root = env["driver"], env["s3"], env["bucket"], env["root"]
    css(d, f'tr[data-bucket="{bucket}"] a')[0].click()
    wait_for("the prefix browser", lambda: css(d, "#file-input"))
    wait_for("the folder docs/", lambda: css(d, 'tr.folder[data-prefix="docs/"]'))
    small = write_random_file(root / "up" / "photo one.bin", 300 * 1024, 1)
    big = write_random_file(root / "up" / "big.bin", 20 * MiB + 12345, 2)
    css(d, "#file-input")[0].send_keys(f"{small}\n{big}")
    wait_for("both uploads done", lambda: len(css(d, "li.upload.done")) == 2, timeout=120)
    no_error(d)
    wait_for("the uploaded files listed", lambda: css(d, 'tr[data-key="photo one.bin"]') and css(d, 'tr[data-key="big.bin"]'))
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"].endswith('-3"'), head["ETag"]  # three 8 MiB parts
    got = s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big.read_bytes()).digest()
    shot(d, "browser")

    # Download through the page: the file lands byte-identical.
    css(d, 'tr[data-key="photo one.bin"] a.button')[0].click()
    target = env["downloads"] / "photo one.bin"
    wait_for("the download", lambda: target.exists() and not list(env["downloads"].glob("*.crdownload")), timeout=30)
    assert target.read_bytes() == small.read_bytes()

    # Share: a presigned link with the chosen expiry, fetched anonymously.
    css(d, 'tr[data-key="photo one.bin"] button.small')[0].click()
    wait_for("the object panel", lambda: css(d, "#object-panel")[0].is_displayed())
    css(d, '#share-expiry option[value="3600"]')[0].click()
    css(d, "#share-create")[0].click()
    url = wait_for("the link", lambda: css(d, "#share-url")[0].get_attribute("value"))
    assert "X-Amz-Expires=3600" in url and url.startswith(env["base"] + "/s3/")
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == small.read_bytes()
    tampered = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    assert requests.get(tampered, timeout=10).status_code == 403

    # Metadata and tags.
    meta = wait_for("the metadata", lambda: "300.0 KiB" in css(d, "#object-meta")[0].text and css(d, "#object-meta")[0].text)
    assert "ETag" in meta
    tags = css(d, "#object-tags")[0]
    tags.clear()
    tags.send_keys("team=web\nstage=prod")
    css(d, "#save-tags")[0].click()
    wait_for("the tags saved", lambda: s3.get_object_tagging(Bucket=bucket, Key="photo one.bin")["TagSet"])
    got = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="photo one.bin")["TagSet"]}
    assert got == {"team": "web", "stage": "prod"}
    no_error(d)
    shot(d, "object")

    # Delete (the button asks again).
    delete = css(d, 'tr[data-key="big.bin"] button.danger')[0]
    delete.click()
    delete.click()
    wait_for("big.bin gone from the list", lambda: not css(d, 'tr[data-key="big.bin"]'))
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="big.bin")


def test_key_for_one_bucket(env):
    d, s3, bucket = env["driver"], env["s3"], env["bucket"]
    other = unique_bucket_name("other")
    s3.create_bucket(Bucket=other)
    d.get(env["base"] + "/#/keys")
    wait_for("the keys page", lambda: css(d, "#create-key"))
    wait_for("the bucket choice", lambda: css(d, f'#key-bucket option[value="{bucket}"]'))
    app = unique_bucket_name("shop-app")
    css(d, "#key-name")[0].send_keys(app)
    css(d, f'#key-bucket option[value="{bucket}"]')[0].click()
    css(d, '#key-access option[value="read+write"]')[0].click()
    css(d, "#create-key")[0].click()
    wait_for("the grant", lambda: css(d, "#created-grant"))
    access = css(d, "#created-access")[0].text
    secret = css(d, "#created-secret")[0].text
    assert access and secret
    wait_for("the key listed with its grant", lambda: f"{bucket} (read+write)" in css(d, f'tr[data-key="{app}"]')[0].text)
    no_error(d)
    shot(d, "keys")
    app_s3 = client(env["server"].endpoint, access, secret)
    app_s3.put_object(Bucket=bucket, Key="from-app.txt", Body=b"app")
    assert app_s3.get_object(Bucket=bucket, Key="from-app.txt")["Body"].read() == b"app"
    assert [b["Name"] for b in app_s3.list_buckets()["Buckets"]] == [bucket]
    for call in (lambda: app_s3.put_object(Bucket=other, Key="x", Body=b"x"),
                 lambda: app_s3.list_objects_v2(Bucket=other)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_cluster_page_and_charts(env):
    d = env["driver"]
    d.get(env["base"] + "/#/cluster")
    wait_for("the node card", lambda: css(d, '.node[data-node="1"]'))
    # Samples every second: the requests of the tests above are on the chart.
    h = wait_for("samples with requests", lambda: (lambda j: j if any(s["requests_per_s"] > 0 for s in j["samples"]) else None)(
        requests.get(env["base"] + "/history.json", timeout=5).json()), timeout=15)
    assert h["interval_s"] == 1.0 and len(h["samples"]) <= 360
    assert len(css(d, "canvas.chart")) == 3
    time.sleep(2.5)  # one refresh after the samples
    no_error(d)
    shot(d, "cluster-embedded")


def test_phone_sized_screen(env):
    d, bucket = env["driver"], env["bucket"]
    d.set_window_size(390, 844)
    try:
        for name, hash_ in (("phone-buckets", "#/buckets"), ("phone-browser", f"#/b/{bucket}/")):
            d.get(env["base"] + "/" + hash_)
            wait_for("the page", lambda: css(d, "#buckets-table tbody tr, #objects-table tbody tr"))
            time.sleep(0.5)
            overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name}: the page is {overflow}px wider than the screen"
            shot(d, name)
    finally:
        d.set_window_size(1280, 900)
