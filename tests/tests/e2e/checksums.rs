#![allow(clippy::unwrap_used)]
//! Flexible checksums (x-amz-checksum-*), aws-chunked trailers, Content-MD5.

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_tests::*;
use crc_fast::CrcAlgorithm;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

fn expected(alg: &ChecksumAlgorithm, data: &[u8]) -> String {
    match alg {
        ChecksumAlgorithm::Crc32 => {
            B64.encode((crc_fast::checksum(CrcAlgorithm::Crc32IsoHdlc, data) as u32).to_be_bytes())
        }
        ChecksumAlgorithm::Crc32C => {
            B64.encode((crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, data) as u32).to_be_bytes())
        }
        ChecksumAlgorithm::Crc64Nvme => {
            B64.encode(crc_fast::checksum(CrcAlgorithm::Crc64Nvme, data).to_be_bytes())
        }
        ChecksumAlgorithm::Sha1 => B64.encode(Sha1::digest(data)),
        ChecksumAlgorithm::Sha256 => B64.encode(Sha256::digest(data)),
        other => panic!("unexpected algorithm {other:?}"),
    }
}

macro_rules! checksum_of {
    ($resp:expr, $alg:expr) => {
        match $alg {
            ChecksumAlgorithm::Crc32 => $resp.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $resp.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $resp.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => $resp.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => $resp.checksum_sha256(),
            _ => None,
        }
    };
}

const ALGS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32C,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
    ChecksumAlgorithm::Crc64Nvme,
];

async fn put_and_verify(c: &aws_sdk_s3::Client, streaming: bool) {
    create_bucket(c, "sums").await;
    for (i, alg) in ALGS.iter().enumerate() {
        for size in [0usize, 5, 70_000, 2 * MIB + 123] {
            let data = payload(1000 + i as u64 * 10 + size as u64, size);
            let key = format!("{}-{size}-{streaming}", alg.as_str());
            let b = if streaming {
                streaming_body(data.clone())
            } else {
                body(data.clone())
            };
            let want = expected(alg, &data);
            let resp = c
                .put_object()
                .bucket("sums")
                .key(&key)
                .checksum_algorithm(alg.clone())
                .body(b)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PUT {key} with {alg:?} (streaming={streaming}): {}",
                        describe(&e)
                    )
                });
            assert_eq!(resp.e_tag(), Some(etag_of(&data).as_str()), "{key} ETag");
            assert_eq!(
                checksum_of!(resp, alg),
                Some(want.as_str()),
                "{key}: PutObject response checksum"
            );

            let get = c
                .get_object()
                .bucket("sums")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {key}: {}", describe(&e)));
            assert_eq!(
                checksum_of!(get, alg),
                Some(want.as_str()),
                "{key}: GetObject checksum"
            );
            let got = get.body.collect().await.unwrap().into_bytes();
            assert!(got.as_ref() == data.as_slice(), "{key}: body differs");

            let head = c
                .head_object()
                .bucket("sums")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(
                checksum_of!(head, alg),
                Some(want.as_str()),
                "{key}: HeadObject checksum"
            );
        }
    }
}

#[tokio::test]
async fn checksums_in_memory_header() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    put_and_verify(&server.client(), false).await;
}

#[tokio::test]
async fn checksums_streaming_trailer() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    put_and_verify(&server.client(), true).await;
}

#[tokio::test]
async fn wrong_checksum_header_rejected() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bad").await;
    let original = payload(1, 10_000);
    put(&c, "bad", "existing", original.clone()).await;

    let data = payload(2, 50_000);
    let wrong_crc32 = B64.encode(0xdead_beef_u32.to_be_bytes());
    assert_ne!(wrong_crc32, expected(&ChecksumAlgorithm::Crc32, &data));
    for key in ["existing", "new"] {
        assert_err(
            c.put_object()
                .bucket("bad")
                .key(key)
                .checksum_crc32(&wrong_crc32)
                .body(body(data.clone()))
                .send()
                .await,
            400,
            &["BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch"],
        );
    }
    let wrong_sha256 = B64.encode(Sha256::digest(b"something else"));
    assert_err(
        c.put_object()
            .bucket("bad")
            .key("existing")
            .checksum_sha256(&wrong_sha256)
            .body(body(data.clone()))
            .send()
            .await,
        400,
        &["BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch"],
    );

    assert_eq!(
        get_bytes(&c, "bad", "existing").await,
        original,
        "old version damaged"
    );
    assert_err(
        c.get_object().bucket("bad").key("new").send().await,
        404,
        &["NoSuchKey"],
    );
    assert_eq!(list_keys(&c, "bad").await, vec!["existing"]);
}

#[tokio::test]
async fn content_md5() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "md5").await;
    let original = payload(3, 1000);
    put(&c, "md5", "existing", original.clone()).await;

    let data = payload(4, 6 * MIB);
    let good = B64.encode(Md5::digest(&data));
    let bad = B64.encode(Md5::digest(b"not the body"));
    for key in ["existing", "new"] {
        assert_err(
            c.put_object()
                .bucket("md5")
                .key(key)
                .content_md5(&bad)
                .body(body(data.clone()))
                .send()
                .await,
            400,
            &["BadDigest"],
        );
    }
    assert_eq!(get_bytes(&c, "md5", "existing").await, original);
    assert_eq!(list_keys(&c, "md5").await, vec!["existing"]);

    // Malformed Content-MD5 is rejected too.
    assert_err(
        c.put_object()
            .bucket("md5")
            .key("new")
            .content_md5("not-base64!")
            .body(body(data.clone()))
            .send()
            .await,
        400,
        &["InvalidDigest", "BadDigest"],
    );
    assert_eq!(list_keys(&c, "md5").await, vec!["existing"]);

    // Correct Content-MD5 works, also with a streaming (aws-chunked) body.
    c.put_object()
        .bucket("md5")
        .key("new")
        .content_md5(&good)
        .body(body(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "md5", "new").await, data);
    c.put_object()
        .bucket("md5")
        .key("new2")
        .content_md5(&good)
        .body(streaming_body(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "md5", "new2").await, data);
}
