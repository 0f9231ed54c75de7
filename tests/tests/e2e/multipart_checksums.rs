#![allow(clippy::unwrap_used)]
//! The additional checksum of a multipart upload: FULL_OBJECT (the CRC of the
//! whole object, what current SDKs ask for when they split an upload and know the
//! whole file's CRC) for CRC32 / CRC32C / CRC64NVME, COMPOSITE as before, and the
//! pairs S3 refuses.

use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_tests::*;
use crc_fast::CrcAlgorithm;

fn crc(alg: &ChecksumAlgorithm, data: &[u8]) -> String {
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
        other => panic!("not a CRC: {other:?}"),
    }
}

macro_rules! crc_of {
    ($resp:expr, $alg:expr) => {
        match $alg {
            ChecksumAlgorithm::Crc32 => $resp.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $resp.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $resp.checksum_crc64_nvme(),
            _ => None,
        }
    };
}

/// Creates an upload with `alg` / `kind` and uploads `parts` with the SDK's part
/// checksums; returns the upload id and the completed-part list.
async fn upload_parts(
    c: &Client,
    bucket: &str,
    key: &str,
    alg: &ChecksumAlgorithm,
    kind: Option<ChecksumType>,
    parts: &[Vec<u8>],
) -> (String, Vec<CompletedPart>) {
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(alg.clone())
        .set_checksum_type(kind.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {key}: {}", describe(&e)));
    let expected_kind = kind.unwrap_or(if *alg == ChecksumAlgorithm::Crc64Nvme {
        ChecksumType::FullObject
    } else {
        ChecksumType::Composite
    });
    assert_eq!(up.checksum_type(), Some(&expected_kind), "{key}");
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(alg.clone())
            .body(body(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(crc_of!(r, alg), Some(crc(alg, data).as_str()), "part {n}");
        let part = CompletedPart::builder()
            .part_number(n)
            .e_tag(r.e_tag().unwrap());
        let part = match alg {
            ChecksumAlgorithm::Crc32 => part.set_checksum_crc32(r.checksum_crc32().map(Into::into)),
            ChecksumAlgorithm::Crc32C => {
                part.set_checksum_crc32_c(r.checksum_crc32_c().map(Into::into))
            }
            _ => part.set_checksum_crc64_nvme(r.checksum_crc64_nvme().map(Into::into)),
        };
        done.push(part.build());
    }
    (id, done)
}

fn parts_of(seed: u64) -> Vec<Vec<u8>> {
    vec![
        payload(seed, 5 * MIB + 11),
        payload(seed + 1, 5 * MIB + 4096),
        payload(seed + 2, 777),
    ]
}

#[tokio::test]
async fn multipart_full_object_crc() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "full").await;
    let algs = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
    ];
    for (i, alg) in algs.iter().enumerate() {
        let key = format!("obj-{}", alg.as_str());
        let parts = parts_of(100 + 10 * i as u64);
        let whole: Vec<u8> = parts.concat();
        let want = crc(alg, &whole);
        let (id, done) = upload_parts(
            &c,
            "full",
            &key,
            alg,
            Some(ChecksumType::FullObject),
            &parts,
        )
        .await;

        let lp = c
            .list_parts()
            .bucket("full")
            .key(&key)
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(lp.checksum_type(), Some(&ChecksumType::FullObject));
        assert_eq!(lp.checksum_algorithm(), Some(alg));

        // A wrong full-object checksum on complete is refused; the upload stays.
        let wrong = crc(alg, b"something else");
        let mut bad = c
            .complete_multipart_upload()
            .bucket("full")
            .key(&key)
            .upload_id(&id)
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done.clone()))
                    .build(),
            );
        bad = match alg {
            ChecksumAlgorithm::Crc32 => bad.checksum_crc32(&wrong),
            ChecksumAlgorithm::Crc32C => bad.checksum_crc32_c(&wrong),
            _ => bad.checksum_crc64_nvme(&wrong),
        };
        assert_err(bad.send().await, 400, &["BadDigest"]);
        // So is a wrong object size.
        assert_err(
            c.complete_multipart_upload()
                .bucket("full")
                .key(&key)
                .upload_id(&id)
                .mpu_object_size(whole.len() as i64 + 1)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done.clone()))
                        .build(),
                )
                .send()
                .await,
            400,
            &["InvalidRequest"],
        );

        let mut req = c
            .complete_multipart_upload()
            .bucket("full")
            .key(&key)
            .upload_id(&id)
            .checksum_type(ChecksumType::FullObject)
            .mpu_object_size(whole.len() as i64)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            );
        req = match alg {
            ChecksumAlgorithm::Crc32 => req.checksum_crc32(&want),
            ChecksumAlgorithm::Crc32C => req.checksum_crc32_c(&want),
            _ => req.checksum_crc64_nvme(&want),
        };
        let done = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("complete {key}: {}", describe(&e)));
        assert_eq!(crc_of!(done, alg), Some(want.as_str()), "{key}");
        assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));

        let head = c
            .head_object()
            .bucket("full")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(crc_of!(head, alg), Some(want.as_str()), "HEAD {key}");
        assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
        // The SDK validates a full-object CRC on a whole GET.
        let got = c
            .get_object()
            .bucket("full")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(crc_of!(got, alg), Some(want.as_str()), "GET {key}");
        assert!(got.body.collect().await.unwrap().into_bytes() == whole[..]);
    }

    // CRC64NVME without a type is FULL_OBJECT (S3 has no composite CRC64NVME).
    let parts = parts_of(200);
    let whole = parts.concat();
    let (id, done) = upload_parts(
        &c,
        "full",
        "default-nvme",
        &ChecksumAlgorithm::Crc64Nvme,
        None,
        &parts,
    )
    .await;
    let done = c
        .complete_multipart_upload()
        .bucket("full")
        .key("default-nvme")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let want = crc(&ChecksumAlgorithm::Crc64Nvme, &whole);
    assert_eq!(done.checksum_crc64_nvme(), Some(want.as_str()));
    let up = c
        .create_multipart_upload()
        .bucket("full")
        .key("nvme-untyped")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap();
    assert_eq!(up.checksum_type(), Some(&ChecksumType::FullObject));
}

#[tokio::test]
async fn multipart_composite_and_refused_checksum_pairs() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "comp").await;

    // COMPOSITE CRC32 (boto3's default for the uploads it splits): checksum of the
    // part checksums, `-N`.
    let parts = parts_of(300);
    let (id, done) = upload_parts(&c, "comp", "c", &ChecksumAlgorithm::Crc32, None, &parts).await;
    let out = c
        .complete_multipart_upload()
        .bucket("comp")
        .key("c")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut raw = Vec::new();
    for p in &parts {
        raw.extend_from_slice(&B64.decode(crc(&ChecksumAlgorithm::Crc32, p)).unwrap());
    }
    let want = format!("{}-3", crc(&ChecksumAlgorithm::Crc32, &raw));
    assert_eq!(out.checksum_crc32(), Some(want.as_str()));
    assert_eq!(out.checksum_type(), Some(&ChecksumType::Composite));

    // A complete that names the other type is refused.
    let (id, done) = upload_parts(
        &c,
        "comp",
        "mismatch",
        &ChecksumAlgorithm::Crc32C,
        Some(ChecksumType::Composite),
        &parts,
    )
    .await;
    assert_err(
        c.complete_multipart_upload()
            .bucket("comp")
            .key("mismatch")
            .upload_id(&id)
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );

    for (alg, kind) in [
        (Some(ChecksumAlgorithm::Sha256), ChecksumType::FullObject),
        (Some(ChecksumAlgorithm::Sha1), ChecksumType::FullObject),
        (Some(ChecksumAlgorithm::Crc64Nvme), ChecksumType::Composite),
        (None, ChecksumType::FullObject),
    ] {
        assert_err(
            c.create_multipart_upload()
                .bucket("comp")
                .key("refused")
                .set_checksum_algorithm(alg.clone())
                .checksum_type(kind.clone())
                .send()
                .await,
            400,
            &["InvalidRequest"],
        );
    }
    let uploads = c
        .list_multipart_uploads()
        .bucket("comp")
        .prefix("refused")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "a refused create left an upload"
    );
}
