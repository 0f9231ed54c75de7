"""S3 checks of tests/deploy/compose.sh, one phase per run (boto3, path-style),
against the endpoint in argv[1]; credentials from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY. Exits non-zero with the reason on the first difference.

  before   create the bucket (retrying 503s for up to 30 s), PUT a 5 MB and a small
           object, GET both back byte-identical, LIST exactly those keys
  degraded (one node down) GET both back byte-identical, PUT a third, LIST all three
  after    (the node back) GET the third object back
"""

import hashlib
import sys
import time

import boto3
from botocore.config import Config

BUCKET = "deploy-test"
BIG = hashlib.sha256(b"cairn").digest() * (5_000_000 // 32)
SMALL = b"hello from compose\n"


def fail(msg):
    sys.exit(f"s3_phase: {msg}")


def client(endpoint):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                 connect_timeout=5, read_timeout=30)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg)


def get(s3, key, want):
    got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    if got != want:
        fail(f"GET {key}: {len(got)} bytes, not the {len(want)} bytes written")


def keys(s3, want):
    got = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    if got != want:
        fail(f"LIST: {got}, want {want}")


def main():
    began = time.monotonic()
    endpoint, phase = sys.argv[1], sys.argv[2]
    s3 = client(endpoint)
    if phase == "before":
        start = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except Exception as e:  # 503 while the cluster settles
                if time.monotonic() - start > 30:
                    fail(f"create_bucket: {e}")
                time.sleep(0.5)
        print(f"create_bucket: {attempts} attempt(s), {time.monotonic() - start:.1f} s")
        s3.put_object(Bucket=BUCKET, Key="big.bin", Body=BIG)
        s3.put_object(Bucket=BUCKET, Key="dir/small.txt", Body=SMALL)
        get(s3, "big.bin", BIG)
        get(s3, "dir/small.txt", SMALL)
        keys(s3, ["big.bin", "dir/small.txt"])
    elif phase == "degraded":
        get(s3, "big.bin", BIG)
        get(s3, "dir/small.txt", SMALL)
        s3.put_object(Bucket=BUCKET, Key="after-kill.txt", Body=SMALL)
        keys(s3, ["after-kill.txt", "big.bin", "dir/small.txt"])
    elif phase == "after":
        get(s3, "after-kill.txt", SMALL)
    else:
        fail(f"unknown phase {phase}")
    print(f"s3_phase {phase}: ok in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
