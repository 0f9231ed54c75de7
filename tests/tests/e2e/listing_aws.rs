#![allow(clippy::unwrap_used)]
//! Listing details real clients rely on, checked in the raw XML as well as through
//! the SDK: what `encoding-type=url` encodes, `max-keys=0`, an empty `delimiter=`,
//! and the keys' `Owner` (V1 always, V2 with `fetch-owner=true`).

use aws_sdk_s3::types::EncodingType;
use cairn_tests::*;

/// A signed GET of `path_and_query` (already percent-encoded): status and body.
pub async fn signed_get(server: &Server, path_and_query: &str) -> (u16, String) {
    let url = server.url(path_and_query);
    let signed = sign_request("GET", &url, &[], PayloadMode::Bytes(b""));
    let mut rb = server.http().get(&url);
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Every `<tag>value</tag>` of `xml`, in order.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

#[tokio::test]
async fn list_url_encoding_keeps_slash_and_unreserved() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "enc").await;
    for k in ["foo/bar baz", "foo/x+y", "a-b_c.d~e*f", "ключ/v", "p%q/r"] {
        put(&c, "enc", k, b"x".to_vec()).await;
    }

    let (status, xml) = signed_get(&server, "enc?list-type=2&encoding-type=url").await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(
        xml_values(&xml, "Key"),
        [
            "a-b_c.d~e%2Af",
            "foo/bar%20baz",
            "foo/x%2By",
            "p%25q/r",
            "%D0%BA%D0%BB%D1%8E%D1%87/v",
        ],
        "{xml}"
    );

    // Prefix, Delimiter, StartAfter and CommonPrefixes are encoded the same way.
    let (status, xml) = signed_get(
        &server,
        "enc?list-type=2&encoding-type=url&delimiter=%2F&prefix=foo%2F&start-after=foo%2Fa%20b",
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(xml_values(&xml, "Delimiter"), ["/"], "{xml}");
    assert_eq!(xml_values(&xml, "StartAfter"), ["foo/a%20b"], "{xml}");
    assert_eq!(xml_values(&xml, "Key"), ["foo/bar%20baz", "foo/x%2By"]);
    // The request's Prefix (inside ListBucketResult, outside CommonPrefixes).
    assert!(xml.contains("<Prefix>foo/</Prefix>"), "{xml}");

    let (_, xml) = signed_get(&server, "enc?list-type=2&encoding-type=url&delimiter=%2F").await;
    assert!(
        xml.contains("<CommonPrefixes><Prefix>%D0%BA%D0%BB%D1%8E%D1%87/</Prefix></CommonPrefixes>"),
        "{xml}"
    );
    assert!(
        xml.contains("<CommonPrefixes><Prefix>foo/</Prefix></CommonPrefixes>"),
        "{xml}"
    );

    // V1: Key, Marker and NextMarker too.
    let (_, xml) = signed_get(
        &server,
        "enc?encoding-type=url&marker=foo%2Fbar%20baz&max-keys=1",
    )
    .await;
    assert_eq!(xml_values(&xml, "Key"), ["foo/x%2By"], "{xml}");
    assert_eq!(xml_values(&xml, "Marker"), ["foo/bar%20baz"], "{xml}");
    assert_eq!(xml_values(&xml, "NextMarker"), ["foo/x%2By"], "{xml}");

    // The SDK, given the encoded values, pages through every key exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let r = c
            .list_objects_v2()
            .bucket("enc")
            .encoding_type(EncodingType::Url)
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        seen.extend(r.contents().iter().map(|o| o.key().unwrap().to_string()));
        token = r.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[tokio::test]
async fn list_max_keys_zero_and_empty_delimiter() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "maxkeys").await;
    for k in ["a/1", "a/2", "b"] {
        put(&c, "maxkeys", k, b"x".to_vec()).await;
    }
    for v2 in [true, false] {
        let r = if v2 {
            let r = c
                .list_objects_v2()
                .bucket("maxkeys")
                .max_keys(0)
                .send()
                .await
                .unwrap();
            assert_eq!(r.key_count(), Some(0));
            assert_eq!(r.next_continuation_token(), None);
            (r.is_truncated(), r.contents().len(), r.max_keys())
        } else {
            let r = c
                .list_objects()
                .bucket("maxkeys")
                .max_keys(0)
                .send()
                .await
                .unwrap();
            assert_eq!(r.next_marker(), None);
            (r.is_truncated(), r.contents().len(), r.max_keys())
        };
        assert_eq!(r, (Some(false), 0, Some(0)), "v2={v2}");
    }
    assert_err(
        c.list_objects_v2().bucket("nope").max_keys(0).send().await,
        404,
        &["NoSuchBucket"],
    );

    for query in ["maxkeys?list-type=2&delimiter=", "maxkeys?delimiter="] {
        let (status, xml) = signed_get(&server, query).await;
        assert_eq!(status, 200, "{xml}");
        assert!(!xml.contains("<Delimiter"), "{query}: {xml}");
        assert_eq!(xml_values(&xml, "Key"), ["a/1", "a/2", "b"], "{query}");
        assert!(!xml.contains("<CommonPrefixes>"), "{query}: {xml}");
    }
}

#[tokio::test]
async fn list_owner_v1_always_v2_with_fetch_owner() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "own").await;
    put(&c, "own", "k", b"x".to_vec()).await;

    let r = c.list_objects().bucket("own").send().await.unwrap();
    let owner = r.contents()[0].owner().expect("V1 lists each key's owner");
    assert!(owner.id().is_some_and(|id| !id.is_empty()));

    let r = c
        .list_objects_v2()
        .bucket("own")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = r.contents()[0]
        .owner()
        .expect("V2 with fetch-owner lists owners");
    assert!(owner.id().is_some_and(|id| !id.is_empty()));

    let r = c.list_objects_v2().bucket("own").send().await.unwrap();
    assert!(
        r.contents()[0].owner().is_none(),
        "V2 lists owners only when asked"
    );
}
