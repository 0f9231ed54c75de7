#![allow(clippy::unwrap_used)]
//! S3's limits on what a request may carry: object tags, DeleteObjects bodies,
//! key characters listings can carry, reserved bucket names; and the
//! received-bytes metric counting what was read, not what was declared.

use super::refusals::raw;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use cairn_tests::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tags(n: usize) -> Tagging {
    let set = (0..n)
        .map(|i| {
            Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap()
        })
        .collect();
    Tagging::builder().set_tag_set(Some(set)).build().unwrap()
}

#[tokio::test]
async fn more_than_ten_object_tags_are_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    put(&c, "bkt", "k", b"data".to_vec()).await;
    c.put_object_tagging()
        .bucket("bkt")
        .key("k")
        .tagging(tags(10))
        .send()
        .await
        .unwrap();
    assert_err(
        c.put_object_tagging()
            .bucket("bkt")
            .key("k")
            .tagging(tags(11))
            .send()
            .await,
        400,
        &["BadRequest"],
    );
    let kept = c
        .get_object_tagging()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.tag_set().len(), 10);

    let header: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("tagged")
            .tagging(header.join("&"))
            .body(body(b"x".to_vec()))
            .send()
            .await,
        400,
        &["BadRequest"],
    );
    assert_err(
        c.head_object().bucket("bkt").key("tagged").send().await,
        404,
        &[],
    );
    // Buckets may carry 50.
    c.put_bucket_tagging()
        .bucket("bkt")
        .tagging(tags(11))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_delete_objects_body_is_refused_unread() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    put(&c, "bkt", "keep", b"data".to_vec()).await;
    let mut doc = String::from("<Delete><Object><Key>keep</Key></Object>");
    while doc.len() < 25 * 1024 * 1024 {
        doc.push_str("<Object><Key>padding-padding-padding-padding</Key></Object>");
    }
    doc.push_str("</Delete>");
    let md5 = {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(doc.as_bytes()))
    };
    let (status, text) = raw(
        &server,
        "POST",
        "bkt?delete",
        &[("content-md5", &md5), ("content-type", "application/xml")],
        doc.into_bytes(),
    )
    .await;
    assert_eq!(
        (status, xml_code(&text).as_deref()),
        (400, Some("MaxMessageLengthExceeded")),
        "{text}"
    );
    assert_eq!(list_keys(&c, "bkt").await, vec!["keep"]);
    // A normal batch still works.
    c.delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("keep").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(list_keys(&c, "bkt").await.is_empty());
}

#[tokio::test]
async fn keys_xml_cannot_carry_are_refused_and_listings_stay_well_formed() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    for key in [
        "nul\u{0}key",
        "bell\u{7}",
        "esc\u{1b}[0m",
        "cr\rlf",
        "bad\u{FFFE}",
    ] {
        assert_err(
            c.put_object()
                .bucket("bkt")
                .key(key)
                .body(body(b"x".to_vec()))
                .send()
                .await,
            400,
            &["InvalidArgument"],
        );
        assert_err(
            c.create_multipart_upload()
                .bucket("bkt")
                .key(key)
                .send()
                .await,
            400,
            &["InvalidArgument"],
        );
    }
    put(&c, "bkt", "src", b"x".to_vec()).await;
    assert_err(
        c.copy_object()
            .bucket("bkt")
            .key("copy\u{1}")
            .copy_source("bkt/src")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    // Tabs, line feeds and any other Unicode are fine, and list back exactly.
    let fine = ["tab\there", "line\nfeed", "üñí©ødé 😀"];
    for key in fine {
        put(&c, "bkt", key, b"x".to_vec()).await;
    }
    let mut want: Vec<&str> = fine.iter().copied().chain(["src"]).collect();
    want.sort();
    assert_eq!(list_keys(&c, "bkt").await, want);
    let uploads = c
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}

#[tokio::test]
async fn reserved_bucket_names_are_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    // Raw requests: SDKs treat some of these suffixes as access points or
    // directory buckets and would not send them as they are.
    for name in [
        "data-s3alias",
        "data--ol-s3",
        "xn--data",
        "sthree-data",
        "sthree-configurator-x",
        "amzn-s3-demo-data",
        "data.mrap",
        "data--use1-az4--x-s3",
        "data--table-s3",
    ] {
        let (status, text) = raw(&server, "PUT", name, &[], Vec::new()).await;
        assert_eq!(
            (status, xml_code(&text).as_deref()),
            (400, Some("InvalidBucketName")),
            "{name}: {text}"
        );
    }
    assert!(c.list_buckets().send().await.unwrap().buckets().is_empty());
    let (status, _) = raw(&server, "PUT", "data-s3aliasx", &[], Vec::new()).await;
    assert_eq!(status, 200);
}

async fn received_bytes(server: &Server) -> f64 {
    let text = server
        .http()
        .get(server.url("metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cairn_s3_received_bytes_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn received_bytes_count_what_was_read() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let before = received_bytes(&server).await;
    put(&c, "bkt", "k", payload(1, 100_000)).await;
    let after_put = received_bytes(&server).await;
    let delta = after_put - before;
    assert!(
        (100_000.0..110_000.0).contains(&delta),
        "a 100,000-byte PUT counted {delta} bytes"
    );

    // A PUT declaring 6 GiB, refused before its body: it sends nothing more.
    let url = server.url("bkt/huge");
    let declared = (6u64 << 30).to_string();
    let signed = sign_request(
        "PUT",
        &url,
        &[("content-length", &declared)],
        PayloadMode::Unsigned,
    );
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut head = format!(
        "PUT /bkt/huge HTTP/1.1\r\nhost: {}\r\ncontent-length: {declared}\r\nexpect: 100-continue\r\n",
        server.addr
    );
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(answer.contains("EntityTooLarge"), "{answer}");
    drop(s);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delta = received_bytes(&server).await - after_put;
    assert!(
        delta < 1_000_000.0,
        "a refused, unsent body counted {delta} bytes"
    );
}
