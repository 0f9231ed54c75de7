#![allow(clippy::unwrap_used)]
//! ListObjects (V1) and ListObjectsV2.

use std::collections::HashSet;

use aws_sdk_s3::types::EncodingType;
use aws_sdk_s3::Client;
use cairn_tests::*;

async fn put_keys(c: &Client, bucket: &str, keys: &[&str]) {
    create_bucket(c, bucket).await;
    for k in keys {
        put(c, bucket, k, format!("body:{k}").into_bytes()).await;
    }
}

fn keys_of(contents: &[aws_sdk_s3::types::Object]) -> Vec<String> {
    contents
        .iter()
        .map(|o| o.key().unwrap_or_default().to_string())
        .collect()
}

fn prefixes_of(p: &[aws_sdk_s3::types::CommonPrefix]) -> Vec<String> {
    p.iter()
        .map(|p| p.prefix().unwrap_or_default().to_string())
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const TREE: [&str; 9] = [
    "a/1", "a/2", "a/b/3", "a/b/c/4", "b/5", "c", "d/", "d/6", "e.txt",
];

#[tokio::test]
async fn list_v2_prefix_and_delimiter() {
    let server = Server::start_default().await;
    let c = server.client();
    put_keys(&c, "tree", &TREE).await;

    let r = c.list_objects_v2().bucket("tree").send().await.unwrap();
    assert_eq!(keys_of(r.contents()), strs(&TREE));
    assert_eq!(r.key_count(), Some(TREE.len() as i32));
    assert_eq!(r.is_truncated(), Some(false));
    let o = &r.contents()[5]; // "c"
    assert_eq!(o.size(), Some("body:c".len() as i64));
    assert_eq!(o.e_tag(), Some(etag_of(b"body:c").as_str()));
    assert!(o.last_modified().is_some());

    let r = c
        .list_objects_v2()
        .bucket("tree")
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(r.contents()),
        strs(&["a/1", "a/2", "a/b/3", "a/b/c/4"])
    );

    let r = c
        .list_objects_v2()
        .bucket("tree")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["c", "e.txt"]));
    assert_eq!(prefixes_of(r.common_prefixes()), strs(&["a/", "b/", "d/"]));
    assert_eq!(
        r.key_count(),
        Some(5),
        "KeyCount counts keys + common prefixes"
    );

    let r = c
        .list_objects_v2()
        .bucket("tree")
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["a/1", "a/2"]));
    assert_eq!(prefixes_of(r.common_prefixes()), strs(&["a/b/"]));
    assert_eq!(r.prefix(), Some("a/"));
    assert_eq!(r.delimiter(), Some("/"));

    let r = c
        .list_objects_v2()
        .bucket("tree")
        .prefix("d/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["d/", "d/6"]));
    assert!(r.common_prefixes().is_empty());

    // Prefix that is not a "directory".
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .prefix("a/b")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["a/b/3", "a/b/c/4"]));

    // Non-"/" delimiter.
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .delimiter(".")
        .send()
        .await
        .unwrap();
    assert_eq!(prefixes_of(r.common_prefixes()), strs(&["e."]));
    assert_eq!(r.contents().len(), TREE.len() - 1);

    // No match.
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .prefix("zzz")
        .send()
        .await
        .unwrap();
    assert!(r.contents().is_empty());
    assert_eq!(r.key_count(), Some(0));

    assert_err(
        c.list_objects_v2().bucket("missing").send().await,
        404,
        &["NoSuchBucket"],
    );
}

#[tokio::test]
async fn list_v2_paging() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "page").await;
    let mut all: Vec<String> = (0..53).map(|i| format!("key-{i:03}")).collect();
    for k in &all {
        put(&c, "page", k, k.clone().into_bytes()).await;
    }
    all.sort();

    for page_size in [1, 7, 10, 53, 100] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let r = c
                .list_objects_v2()
                .bucket("page")
                .max_keys(page_size)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(r.contents().len() <= page_size as usize);
            assert_eq!(r.max_keys(), Some(page_size));
            assert_eq!(r.key_count(), Some(r.contents().len() as i32));
            seen.extend(keys_of(r.contents()));
            if r.is_truncated() == Some(true) {
                let t = r
                    .next_continuation_token()
                    .expect("truncated without token");
                token = Some(t.to_string());
            } else {
                assert!(r.next_continuation_token().is_none());
                break;
            }
            assert!(pages < 200, "paging does not terminate");
        }
        assert_eq!(seen, all, "page size {page_size}: keys seen");
        let expected_pages = 53usize.div_ceil(page_size as usize).max(1);
        assert!(
            pages == expected_pages || pages == expected_pages + 1,
            "page size {page_size}: {pages} pages"
        );
    }

    // Paging with a delimiter: common prefixes count towards max-keys and each
    // appears exactly once across pages.
    create_bucket(&c, "dirs").await;
    let mut expected_entries = Vec::new();
    for d in 0..6 {
        for f in 0..3 {
            put(&c, "dirs", &format!("d{d}/f{f}"), b"x".to_vec()).await;
        }
        expected_entries.push(format!("d{d}/"));
        put(&c, "dirs", &format!("d{d}file"), b"x".to_vec()).await;
        expected_entries.push(format!("d{d}file"));
    }
    expected_entries.sort();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_objects_v2()
            .bucket("dirs")
            .delimiter("/")
            .max_keys(4)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        let n = r.contents().len() + r.common_prefixes().len();
        assert!(n <= 4, "page returned {n} entries for max-keys 4");
        seen.extend(keys_of(r.contents()));
        seen.extend(prefixes_of(r.common_prefixes()));
        if r.is_truncated() == Some(true) {
            token = Some(r.next_continuation_token().unwrap().to_string());
        } else {
            break;
        }
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicate entries across pages: {seen:?}"
    );
    seen.sort();
    assert_eq!(seen, expected_entries);
}

#[tokio::test]
async fn list_v2_start_after() {
    let server = Server::start_default().await;
    let c = server.client();
    put_keys(&c, "tree", &TREE).await;
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .start_after("a/b/3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(r.contents()),
        strs(&["a/b/c/4", "b/5", "c", "d/", "d/6", "e.txt"])
    );
    assert_eq!(r.start_after(), Some("a/b/3"));
    // start-after need not be an existing key.
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .start_after("bz")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["c", "d/", "d/6", "e.txt"]));
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .start_after("zzz")
        .send()
        .await
        .unwrap();
    assert!(r.contents().is_empty());
    // Combined with paging.
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .start_after("a/2")
        .max_keys(2)
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["a/b/3", "a/b/c/4"]));
    let r = c
        .list_objects_v2()
        .bucket("tree")
        .start_after("a/2")
        .continuation_token(r.next_continuation_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(r.contents()),
        strs(&["b/5", "c", "d/", "d/6", "e.txt"])
    );
}

#[tokio::test]
async fn list_v1_marker_paging() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "v1b").await;
    let mut all: Vec<String> = (0..25).map(|i| format!("obj/{i:02}")).collect();
    all.push("top".to_string());
    for k in &all {
        put(&c, "v1b", k, b"v".to_vec()).await;
    }
    all.sort();

    let r = c.list_objects().bucket("v1b").send().await.unwrap();
    assert_eq!(keys_of(r.contents()), all);
    assert_eq!(r.is_truncated(), Some(false));

    // Marker paging without delimiter: NextMarker is optional, use last key.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let r = c
            .list_objects()
            .bucket("v1b")
            .max_keys(6)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(r.contents().len() <= 6);
        let ks = keys_of(r.contents());
        seen.extend(ks.iter().cloned());
        if r.is_truncated() == Some(true) {
            marker = Some(
                r.next_marker()
                    .map(str::to_string)
                    .unwrap_or_else(|| ks.last().unwrap().clone()),
            );
        } else {
            break;
        }
    }
    assert_eq!(seen, all);

    // With delimiter: NextMarker must be present when truncated.
    let r = c
        .list_objects()
        .bucket("v1b")
        .delimiter("/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.is_truncated(), Some(true));
    assert_eq!(prefixes_of(r.common_prefixes()), strs(&["obj/"]));
    let next = r
        .next_marker()
        .expect("NextMarker with delimiter")
        .to_string();
    let r = c
        .list_objects()
        .bucket("v1b")
        .delimiter("/")
        .marker(next)
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(r.contents()), strs(&["top"]));
    assert!(r.common_prefixes().is_empty());
    assert_eq!(r.is_truncated(), Some(false));

    // Prefix + marker.
    let r = c
        .list_objects()
        .bucket("v1b")
        .prefix("obj/")
        .marker("obj/20")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(r.contents()),
        strs(&["obj/21", "obj/22", "obj/23", "obj/24"])
    );
}

/// application/x-www-form-urlencoded style decoding ("+" is a space), as boto3 does.
fn url_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn list_encoding_type_url() {
    let server = Server::start_default().await;
    let c = server.client();
    let keys = [
        "dir one/file two.txt",
        "dir one/ünï çødé.bin",
        "plus+sign",
        "percent%41",
        "ключ/значение",
        "日本/語",
        "amp&lt<gt>",
    ];
    put_keys(&c, "enc", &keys).await;
    let mut expected: Vec<String> = strs(&keys);
    expected.sort();

    // V2
    let r = c
        .list_objects_v2()
        .bucket("enc")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.encoding_type(), Some(&EncodingType::Url));
    for k in keys_of(r.contents()) {
        assert!(
            k.is_ascii() && !k.contains(' '),
            "encoded key {k:?} is not url-encoded"
        );
    }
    let decoded: Vec<String> = keys_of(r.contents())
        .iter()
        .map(|k| url_decode(k))
        .collect();
    assert_eq!(decoded, expected);

    // V2 with delimiter and encoded common prefixes.
    let r = c
        .list_objects_v2()
        .bucket("enc")
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let p: Vec<String> = prefixes_of(r.common_prefixes())
        .iter()
        .map(|p| url_decode(p))
        .collect();
    assert_eq!(p, strs(&["dir one/", "ключ/", "日本/"]));
    let k: Vec<String> = keys_of(r.contents())
        .iter()
        .map(|k| url_decode(k))
        .collect();
    assert_eq!(k, strs(&["amp&lt<gt>", "percent%41", "plus+sign"]));

    // Prefix containing a space and unicode.
    let r = c
        .list_objects_v2()
        .bucket("enc")
        .prefix("dir one/ü")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let k: Vec<String> = keys_of(r.contents())
        .iter()
        .map(|k| url_decode(k))
        .collect();
    assert_eq!(k, strs(&["dir one/ünï çødé.bin"]));

    // V1
    let r = c
        .list_objects()
        .bucket("enc")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let decoded: Vec<String> = keys_of(r.contents())
        .iter()
        .map(|k| url_decode(k))
        .collect();
    assert_eq!(decoded, expected);

    // Without encoding-type keys come back verbatim.
    let r = c.list_objects_v2().bucket("enc").send().await.unwrap();
    assert_eq!(keys_of(r.contents()), expected);
}

#[tokio::test]
async fn list_utf8_byte_order() {
    let server = Server::start_default().await;
    let c = server.client();
    let keys = [
        "z", "a", "B", "é", "~", "Z", "0", "aa", "a/", "a-", "日本", "ÿ", "Ā", "!", " space", "e",
    ];
    put_keys(&c, "order", &keys).await;
    let mut expected = strs(&keys);
    expected.sort(); // String ordering is UTF-8 byte order
    assert_eq!(expected[0], " space");

    let r = c.list_objects_v2().bucket("order").send().await.unwrap();
    assert_eq!(keys_of(r.contents()), expected, "ListObjectsV2 order");
    let r = c.list_objects().bucket("order").send().await.unwrap();
    assert_eq!(keys_of(r.contents()), expected, "ListObjects order");

    // Paging in byte order with a non-ASCII continuation point.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let r = c
            .list_objects_v2()
            .bucket("order")
            .max_keys(3)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        seen.extend(keys_of(r.contents()));
        if r.is_truncated() != Some(true) {
            break;
        }
        token = r.next_continuation_token().map(str::to_string);
    }
    assert_eq!(seen, expected);
    let r = c
        .list_objects_v2()
        .bucket("order")
        .start_after("é")
        .send()
        .await
        .unwrap();
    let after: Vec<String> = expected
        .iter()
        .filter(|k| k.as_bytes() > "é".as_bytes())
        .cloned()
        .collect();
    assert_eq!(keys_of(r.contents()), after);
}

#[tokio::test]
async fn list_empty_bucket_and_max_keys_zero() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "empty").await;
    let r = c.list_objects_v2().bucket("empty").send().await.unwrap();
    assert!(r.contents().is_empty());
    assert_eq!(r.key_count(), Some(0));
    assert_eq!(r.is_truncated(), Some(false));
    let r = c.list_objects().bucket("empty").send().await.unwrap();
    assert!(r.contents().is_empty());

    put(&c, "empty", "one", b"1".to_vec()).await;
    let r = c
        .list_objects_v2()
        .bucket("empty")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert!(r.contents().is_empty());
    assert_eq!(r.key_count(), Some(0));
}
