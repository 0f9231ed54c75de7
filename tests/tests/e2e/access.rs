//! Keys and grants end to end: keys made through the admin API (and the `cairn
//! key` / `cairn bucket` commands), each key seeing and touching only its own or
//! granted buckets, refusals that change nothing, disabled / deleted / expired
//! keys refused (through a second gateway on a cluster), the admin API's token
//! and body checks, and no secret in any log.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The admin API of a test server.
pub(crate) struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    pub(crate) fn of(server: &Server) -> Admin {
        Admin {
            base: server.admin_url(),
            http: reqwest::Client::new(),
        }
    }

    /// One call with `token` (None: no Authorization header) and a raw body.
    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{path}: HTTP {status}, not JSON: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, value)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.raw(method, path, Some(ADMIN_TOKEN), body.map(|b| b.to_string()))
            .await
    }

    /// Creates key `name`; its (access key, secret).
    pub(crate) async fn key(&self, name: &str) -> (String, String) {
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/keys",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "create key {name}: {v}");
        (
            v["access_key"].as_str().unwrap().to_string(),
            v["secret_key"].as_str().unwrap().to_string(),
        )
    }

    pub(crate) async fn grant(&self, bucket: &str, key: &str, verb: &str, perms: Value) {
        let mut body = perms;
        body["key"] = json!(key);
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/buckets/{bucket}/{verb}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{verb} {key} on {bucket}: {v}");
    }
}

async fn names(c: &Client) -> Vec<String> {
    let resp = c.list_buckets().send().await.unwrap();
    resp.buckets()
        .iter()
        .map(|b| b.name().unwrap_or_default().to_string())
        .collect()
}

/// Fails the test if any log file of `server` holds one of `secrets`.
pub(crate) fn assert_no_secrets(server: &Server, secrets: &[&str]) {
    let files = server.log_files();
    assert!(!files.is_empty(), "no log files found");
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a secret is in the log {}",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn two_apps_see_only_their_buckets() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let (shop_ak, shop_sk) = admin.key("shop").await;
    let (orders_ak, orders_sk) = admin.key("orders").await;
    let shop = server.client_with(&shop_ak, &shop_sk);
    let orders = server.client_with(&orders_ak, &orders_sk);

    create_bucket(&shop, "shop-images").await;
    create_bucket(&orders, "order-invoices").await;
    put(&shop, "shop-images", "a.jpg", "jpeg").await;
    put(&orders, "order-invoices", "1.pdf", "pdf").await;

    assert_eq!(names(&shop).await, vec!["shop-images"]);
    assert_eq!(names(&orders).await, vec!["order-invoices"]);
    assert_eq!(
        names(&server.client()).await,
        vec!["order-invoices", "shop-images"],
        "the admin key sees every bucket"
    );

    // Another owner's bucket: its name is taken, every access is denied.
    assert_err(
        shop.create_bucket().bucket("order-invoices").send().await,
        409,
        &["BucketAlreadyExists"],
    );
    assert_err(
        shop.create_bucket().bucket("shop-images").send().await,
        409,
        &["BucketAlreadyOwnedByYou"],
    );
    assert_err(
        shop.get_object()
            .bucket("order-invoices")
            .key("1.pdf")
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        shop.list_objects_v2().bucket("order-invoices").send().await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        shop.head_bucket().bucket("order-invoices").send().await,
        403,
        &[],
    );
    // A bucket that does not exist is NoSuchBucket, as for anyone.
    assert_err(
        shop.list_objects_v2()
            .bucket("nobody-has-this")
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
    assert_eq!(get_bytes(&orders, "order-invoices", "1.pdf").await, b"pdf");
    assert_no_secrets(&server, &[&shop_sk, &orders_sk, SECRET_KEY, ADMIN_TOKEN]);
}

/// Asserts every result is 403 AccessDenied.
macro_rules! denied {
    ($($what:expr),* $(,)?) => {
        $( assert_err($what.send().await, 403, &["AccessDenied"]); )*
    };
}

#[tokio::test]
async fn every_family_is_refused_without_permission_and_changes_nothing() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let (owner_ak, owner_sk) = admin.key("owner").await;
    let (reader_ak, reader_sk) = admin.key("reader").await;
    let (none_ak, none_sk) = admin.key("stranger").await;
    let owner = server.client_with(&owner_ak, &owner_sk);
    let reader = server.client_with(&reader_ak, &reader_sk);
    let none = server.client_with(&none_ak, &none_sk);
    create_bucket(&owner, "fam-bucket").await;
    create_bucket(&none, "stranger-own").await;
    put(&owner, "fam-bucket", "obj", "original").await;
    admin
        .grant("fam-bucket", "reader", "allow", json!({ "read": true }))
        .await;

    // Reads: refused to a key without a grant, allowed with read.
    denied!(
        none.get_object().bucket("fam-bucket").key("obj"),
        none.list_objects_v2().bucket("fam-bucket"),
        none.list_objects().bucket("fam-bucket"),
        none.list_object_versions().bucket("fam-bucket"),
        none.list_multipart_uploads().bucket("fam-bucket"),
        none.get_object_tagging().bucket("fam-bucket").key("obj"),
        none.get_bucket_location().bucket("fam-bucket"),
    );
    // HEAD answers carry no error code.
    assert_err(
        none.head_object()
            .bucket("fam-bucket")
            .key("obj")
            .send()
            .await,
        403,
        &[],
    );
    assert_eq!(get_bytes(&reader, "fam-bucket", "obj").await, b"original");
    assert_eq!(list_keys(&reader, "fam-bucket").await, vec!["obj"]);

    // Writes: refused without write (also with read).
    for c in [&none, &reader] {
        denied!(
            c.put_object()
                .bucket("fam-bucket")
                .key("obj")
                .body(ByteStream::from_static(b"evil")),
            c.put_object()
                .bucket("fam-bucket")
                .key("new")
                .body(ByteStream::from_static(b"evil")),
            c.delete_object().bucket("fam-bucket").key("obj"),
            c.delete_objects().bucket("fam-bucket").delete(
                Delete::builder()
                    .objects(ObjectIdentifier::builder().key("obj").build().unwrap())
                    .build()
                    .unwrap()
            ),
            c.copy_object()
                .bucket("fam-bucket")
                .key("copy")
                .copy_source("fam-bucket/obj"),
            c.create_multipart_upload().bucket("fam-bucket").key("mp"),
            c.put_object_tagging()
                .bucket("fam-bucket")
                .key("obj")
                .tagging(
                    Tagging::builder()
                        .tag_set(Tag::builder().key("k").value("v").build().unwrap())
                        .build()
                        .unwrap()
                ),
            c.delete_object_tagging().bucket("fam-bucket").key("obj"),
        );
    }
    // A copy out of a bucket the key may not read, into its own bucket.
    denied!(none
        .copy_object()
        .bucket("stranger-own")
        .key("stolen")
        .copy_source("fam-bucket/obj"));

    // Bucket configuration and deletion: owner only.
    for c in [&none, &reader] {
        denied!(
            c.put_bucket_versioning()
                .bucket("fam-bucket")
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build()
                ),
            c.get_bucket_versioning().bucket("fam-bucket"),
            c.put_bucket_policy().bucket("fam-bucket").policy("{}"),
            c.get_bucket_acl().bucket("fam-bucket"),
            c.put_bucket_tagging().bucket("fam-bucket").tagging(
                Tagging::builder()
                    .tag_set(Tag::builder().key("k").value("v").build().unwrap())
                    .build()
                    .unwrap()
            ),
            c.delete_bucket().bucket("fam-bucket"),
        );
    }

    // Nothing changed.
    assert_eq!(get_bytes(&owner, "fam-bucket", "obj").await, b"original");
    assert_eq!(list_keys(&owner, "fam-bucket").await, vec!["obj"]);
    assert!(list_keys(&none, "stranger-own").await.is_empty());
    let tags = owner
        .get_object_tagging()
        .bucket("fam-bucket")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert!(tags.tag_set().is_empty());
    let v = owner
        .get_bucket_versioning()
        .bucket("fam-bucket")
        .send()
        .await
        .unwrap();
    assert!(v.status().is_none(), "versioning changed: {v:?}");
    let uploads = owner
        .list_multipart_uploads()
        .bucket("fam-bucket")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());

    // A write grant opens writes; denying it closes them again.
    admin
        .grant("fam-bucket", "reader", "allow", json!({ "write": true }))
        .await;
    put(&reader, "fam-bucket", "by-reader", "ok").await;
    admin
        .grant("fam-bucket", "reader", "deny", json!({ "write": true }))
        .await;
    denied!(reader
        .put_object()
        .bucket("fam-bucket")
        .key("again")
        .body(ByteStream::from_static(b"x")));
    assert_eq!(get_bytes(&reader, "fam-bucket", "by-reader").await, b"ok");
    assert_no_secrets(
        &server,
        &[&owner_sk, &reader_sk, &none_sk, SECRET_KEY, ADMIN_TOKEN],
    );
}

/// Polls `c` with ListBuckets until it is refused; how long that took.
async fn until_refused(c: &Client, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if c.list_buckets().send().await.is_err() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "the key still works after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second `cairn gateway` of the cluster behind `server`, if it is one.
struct SecondGateway {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for SecondGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn second_gateway(server: &Server, log: &std::path::Path) -> Option<SecondGateway> {
    let cluster = server.cluster()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let log = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(cairn_bin())
        .arg("gateway")
        .arg("--config")
        .arg(cluster.config_path())
        .arg("--listen")
        .arg(addr.to_string())
        .env("CAIRN_ACCESS_KEY", ACCESS_KEY)
        .env("CAIRN_SECRET_KEY", SECRET_KEY)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let gw = SecondGateway {
        child,
        endpoint: format!("http://{addr}"),
    };
    let start = Instant::now();
    while reqwest::get(format!("{}/health", gw.endpoint))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "second gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(gw)
}

#[tokio::test]
async fn disabled_deleted_and_expired_keys_stop_working() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let (ak, sk) = admin.key("revoked").await;
    let c = server.client_with(&ak, &sk);
    create_bucket(&c, "revoked-bucket").await;
    let logs = tempfile::tempdir().unwrap();
    let second = second_gateway(&server, &logs.path().join("gateway2.log")).await;
    let c2 = second
        .as_ref()
        .map(|g| Client::from_conf(s3_config_builder(&g.endpoint, &ak, &sk).build()));
    if let Some(c2) = &c2 {
        assert_eq!(names(c2).await, vec!["revoked-bucket"], "second gateway");
    }

    let (status, v) = admin
        .call(reqwest::Method::POST, "/v1/keys/revoked/disable", None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["enabled"], json!(false));
    // The gateway that served the change refuses the very next request.
    assert_err(c.list_buckets().send().await, 403, &["InvalidAccessKeyId"]);
    if let Some(c2) = &c2 {
        let took = until_refused(c2, Duration::from_secs(5)).await;
        println!("disabled key refused by the second gateway after {took:?}");
        assert_err(c2.list_buckets().send().await, 403, &["InvalidAccessKeyId"]);
    }

    admin
        .call(reqwest::Method::POST, "/v1/keys/revoked/enable", None)
        .await;
    assert_eq!(names(&c).await, vec!["revoked-bucket"]);
    let (status, _) = admin
        .call(reqwest::Method::DELETE, "/v1/keys/revoked", None)
        .await;
    assert_eq!(status, 200);
    assert_err(c.list_buckets().send().await, 403, &["InvalidAccessKeyId"]);
    if let Some(c2) = &c2 {
        let took = until_refused(c2, Duration::from_secs(5)).await;
        println!("deleted key refused by the second gateway after {took:?}");
    }

    // An expiring key works until its time, then is refused.
    let (status, v) = admin
        .call(
            reqwest::Method::POST,
            "/v1/keys",
            Some(json!({ "name": "short", "expires": "2s" })),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let short = server.client_with(
        v["access_key"].as_str().unwrap(),
        v["secret_key"].as_str().unwrap(),
    );
    short.list_buckets().send().await.unwrap();
    let took = until_refused(&short, Duration::from_secs(6)).await;
    println!("expiring key (2s) refused after {took:?}");
    assert_no_secrets(&server, &[&sk, SECRET_KEY, ADMIN_TOKEN]);
    if second.is_some() {
        let text = std::fs::read_to_string(logs.path().join("gateway2.log")).unwrap();
        assert!(
            !text.contains(&sk) && !text.contains(SECRET_KEY),
            "secret in gateway2.log"
        );
    }
}
