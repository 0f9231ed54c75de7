#![allow(clippy::unwrap_used)]
//! Everything survives a restart on the same data directory.

use std::collections::HashMap;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use aws_sdk_s3::Client;
use cairn_tests::*;

struct Expected {
    objects: Vec<(String, String, Vec<u8>, String)>, // bucket, key, data, etag
    pending_upload: (String, String, Vec<u8>),       // key, upload id, part 1 data
}

async fn populate(c: &Client) -> Expected {
    create_bucket(c, "alpha").await;
    create_bucket(c, "beta").await;
    c.put_bucket_tagging()
        .bucket("alpha")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("k").value("v").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let mut objects = Vec::new();
    for (i, (bucket, key, size)) in [
        ("alpha", "empty", 0usize),
        ("alpha", "tiny", 1),
        ("alpha", "inline/limit", 64 * KIB - 1),
        ("alpha", "dir/one-chunk", MIB),
        ("alpha", "dir/multi-chunk", 3 * MIB + 333),
        ("beta", "ключ with space", 12_345),
        ("beta", "overwritten", 2 * MIB),
    ]
    .into_iter()
    .enumerate()
    {
        let data = payload(500 + i as u64, size);
        let etag = put(c, bucket, key, data.clone()).await;
        objects.push((bucket.to_string(), key.to_string(), data, etag));
    }
    // Overwrite: only the latest version must survive.
    let data = payload(999, MIB + 7);
    let etag = put(c, "beta", "overwritten", data.clone()).await;
    objects.retain(|o| o.1 != "overwritten");
    objects.push(("beta".into(), "overwritten".into(), data, etag));
    // Deleted object must stay deleted.
    put(c, "beta", "deleted", b"gone".to_vec()).await;
    c.delete_object()
        .bucket("beta")
        .key("deleted")
        .send()
        .await
        .unwrap();

    // Metadata + tags.
    c.put_object()
        .bucket("beta")
        .key("meta")
        .content_type("text/markdown")
        .content_disposition("attachment")
        .metadata("a", "1")
        .tagging("t=1")
        .body(body(b"# title".to_vec()))
        .send()
        .await
        .unwrap();
    objects.push((
        "beta".into(),
        "meta".into(),
        b"# title".to_vec(),
        etag_of(b"# title"),
    ));

    // Completed multipart.
    let id = c
        .create_multipart_upload()
        .bucket("alpha")
        .key("mpu")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let p1 = payload(71, 5 * MIB);
    let p2 = payload(72, 1234);
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let e = c
            .upload_part()
            .bucket("alpha")
            .key("mpu")
            .upload_id(&id)
            .part_number(n)
            .body(body(p.clone()))
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_string();
        parts.push(CompletedPart::builder().part_number(n).e_tag(e).build());
    }
    let done = c
        .complete_multipart_upload()
        .bucket("alpha")
        .key("mpu")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut whole = p1;
    whole.extend_from_slice(&p2);
    objects.push((
        "alpha".into(),
        "mpu".into(),
        whole,
        done.e_tag().unwrap().to_string(),
    ));

    // In-progress multipart upload with one part.
    let pending_id = c
        .create_multipart_upload()
        .bucket("beta")
        .key("pending")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let pending_data = payload(80, 5 * MIB);
    c.upload_part()
        .bucket("beta")
        .key("pending")
        .upload_id(&pending_id)
        .part_number(1)
        .body(body(pending_data.clone()))
        .send()
        .await
        .unwrap();

    Expected {
        objects,
        pending_upload: ("pending".into(), pending_id, pending_data),
    }
}

async fn verify(c: &Client, exp: &Expected, when: &str) {
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["alpha", "beta"], "{when}: buckets");

    let tags = c.get_bucket_tagging().bucket("alpha").send().await.unwrap();
    assert_eq!(tags.tag_set().len(), 1, "{when}: bucket tags");

    let mut by_bucket: HashMap<&str, Vec<String>> = HashMap::new();
    for (bucket, key, data, etag) in &exp.objects {
        by_bucket.entry(bucket).or_default().push(key.clone());
        let resp = c
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{when}: GET {bucket}/{key}: {}", describe(&e)));
        assert_eq!(
            resp.e_tag(),
            Some(etag.as_str()),
            "{when}: ETag {bucket}/{key}"
        );
        assert_eq!(
            resp.content_length(),
            Some(data.len() as i64),
            "{when}: length {bucket}/{key}"
        );
        let got = resp.body.collect().await.unwrap().into_bytes();
        assert!(
            got.as_ref() == data.as_slice(),
            "{when}: content of {bucket}/{key}"
        );
    }
    for (bucket, keys) in by_bucket.iter_mut() {
        keys.sort();
        assert_eq!(
            &list_keys(c, bucket).await,
            keys,
            "{when}: listing of {bucket}"
        );
    }

    let head = c
        .head_object()
        .bucket("beta")
        .key("meta")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/markdown"), "{when}");
    assert_eq!(head.content_disposition(), Some("attachment"), "{when}");
    assert_eq!(
        head.metadata().and_then(|m| m.get("a")).map(String::as_str),
        Some("1"),
        "{when}"
    );
    let t = c
        .get_object_tagging()
        .bucket("beta")
        .key("meta")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tag_set().len(), 1, "{when}: object tags");

    assert_err(
        c.get_object().bucket("beta").key("deleted").send().await,
        404,
        &["NoSuchKey"],
    );

    let (key, id, _) = &exp.pending_upload;
    let lu = c
        .list_multipart_uploads()
        .bucket("beta")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = lu.uploads().iter().filter_map(|u| u.upload_id()).collect();
    assert_eq!(ids, vec![id.as_str()], "{when}: pending uploads");
    let lp = c
        .list_parts()
        .bucket("beta")
        .key(key)
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(lp.parts().len(), 1, "{when}: parts of pending upload");
}

#[tokio::test]
async fn restart_preserves_everything() {
    let mut server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    let exp = populate(&c).await;
    verify(&c, &exp, "before restart").await;

    server.restart().await;
    let c = server.client();
    verify(&c, &exp, "after graceful restart").await;

    server.kill9();
    server.start_again().await;
    let c = server.client();
    verify(&c, &exp, "after SIGKILL restart").await;

    // The pending upload can still be completed after restarts.
    let (key, id, data) = &exp.pending_upload;
    let e2 = c
        .upload_part()
        .bucket("beta")
        .key(key)
        .upload_id(id)
        .part_number(2)
        .body(body(b"tail".to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let lp = c
        .list_parts()
        .bucket("beta")
        .key(key)
        .upload_id(id)
        .send()
        .await
        .unwrap();
    let e1 = lp.parts()[0].e_tag().unwrap().to_string();
    c.complete_multipart_upload()
        .bucket("beta")
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(e1).build())
                .parts(CompletedPart::builder().part_number(2).e_tag(e2).build())
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete after restart: {}", describe(&e)));
    let mut whole = data.clone();
    whole.extend_from_slice(b"tail");
    assert_eq!(get_bytes(&c, "beta", key).await, whole);
}

#[tokio::test]
async fn restart_with_different_chunk_size_reads_old_data() {
    let mut server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let data = payload(1, 5 * MIB + 3);
    put(&c, "bkt", "k", data.clone()).await;

    server.restart_with(ServerOpts::new()).await; // default 4 MiB chunks
    let c = server.client();
    assert_eq!(get_bytes(&c, "bkt", "k").await, data);
    let data2 = payload(2, 5 * MIB + 3);
    put(&c, "bkt", "k2", data2.clone()).await;
    let r = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .range(format!("bytes={}-{}", MIB - 3, 4 * MIB + 2))
        .send()
        .await
        .unwrap();
    let got = r.body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), &data[MIB - 3..4 * MIB + 3]);
    assert_eq!(get_bytes(&c, "bkt", "k2").await, data2);
}
