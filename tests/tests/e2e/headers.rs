#![allow(clippy::unwrap_used)]
//! Object header fidelity on raw requests: repeated `Content-Encoding` lines are
//! one list, stored and returned `, `-joined as HTTP joins them.

use cairn_tests::*;

/// A key, the header lines its PUT sends, and the Content-Encoding then stored.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

async fn raw_put(server: &Server, path: &str, headers: &[(&str, &str)], data: &[u8]) -> u16 {
    let url = server.url(path);
    // Signed as the SDKs sign them: SigV4 joins repeated lines with `,`.
    let signed = sign_request("PUT", &url, headers, PayloadMode::Bytes(data));
    let mut rb = server.http().put(&url).body(data.to_vec());
    for (k, v) in headers {
        rb = rb.header(*k, *v); // appends: repeated names become repeated lines
    }
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    rb.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn repeated_content_encoding_joined_with_comma_space() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "enc").await;
    let data = payload(21, 1000);
    let cases: [Case; 3] = [
        (
            "two-lines",
            &[("content-encoding", "gzip"), ("content-encoding", "br")],
            "gzip, br",
        ),
        (
            "three-lines",
            &[
                ("content-encoding", "gzip"),
                ("content-encoding", "identity"),
                ("content-encoding", "br"),
            ],
            "gzip, identity, br",
        ),
        ("one-line", &[("content-encoding", "gzip, br")], "gzip, br"),
    ];
    for (key, headers, want) in cases {
        assert_eq!(
            raw_put(&server, &format!("enc/{key}"), headers, &data).await,
            200
        );
        let head = c.head_object().bucket("enc").key(key).send().await.unwrap();
        assert_eq!(head.content_encoding(), Some(want), "{key}");
        let got = c.get_object().bucket("enc").key(key).send().await.unwrap();
        assert_eq!(got.content_encoding(), Some(want), "GET {key}");
    }
}
