//! The admin API over HTTP: every endpoint with the right token, a wrong one and
//! none (401 JSON), malformed, mistyped and oversized bodies (400 JSON, nothing
//! changed), the OpenAPI document, bucket sizes and object counts; and the
//! `cairn key` / `cairn bucket` commands against it (the real binary).

use cairn_tests::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = http.request(method, format!("{}{path}", server.admin_url()));
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

async fn ok(server: &Server, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    call(
        server,
        method,
        path,
        Some(ADMIN_TOKEN),
        body.map(|b| b.to_string()),
    )
    .await
}

#[tokio::test]
async fn every_endpoint_wants_the_token_and_checks_its_body() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "admin-bucket").await;
    put(&c, "admin-bucket", "one", vec![1u8; 1000]).await;
    put(&c, "admin-bucket", "two", vec![2u8; 24]).await;

    let (s, created) = ok(
        &server,
        Method::POST,
        "/v1/keys",
        Some(json!({"name": "app"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret_key"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 40);

    let endpoints: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/v1/keys", None),
        (Method::GET, "/v1/keys/app", None),
        (Method::POST, "/v1/keys/app/disable", None),
        (Method::POST, "/v1/keys/app/enable", None),
        (Method::GET, "/v1/buckets", None),
        (Method::GET, "/v1/buckets/admin-bucket", None),
        (
            Method::POST,
            "/v1/buckets/admin-bucket/allow",
            Some(json!({"key": "app", "read": true})),
        ),
        (
            Method::POST,
            "/v1/buckets/admin-bucket/deny",
            Some(json!({"key": "app", "read": true})),
        ),
        (Method::GET, "/v1/cluster", None),
        (Method::POST, "/v1/keys", Some(json!({"name": "second"}))),
        (Method::DELETE, "/v1/keys/second", None),
    ];
    for (method, path, body) in &endpoints {
        let raw = body.as_ref().map(|b| b.to_string());
        for token in [None, Some("wrong-token-wrong-token-wrong")] {
            let (s, v) = call(&server, method.clone(), path, token, raw.clone()).await;
            assert_eq!(s, 401, "{method} {path} with {token:?}: {v}");
            assert_eq!(v["error"], json!("unauthorized"), "{v}");
        }
        let (s, v) = ok(&server, method.clone(), path, body.clone()).await;
        assert!((200..300).contains(&s), "{method} {path}: HTTP {s} {v}");
    }
    // Nothing the refused calls asked for happened: "second" was made and
    // deleted only by the good-token calls, and the grant is gone again.
    let (_, keys) = ok(&server, Method::GET, "/v1/keys", None).await;
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "app"]);

    let (_, info) = ok(&server, Method::GET, "/v1/buckets/admin-bucket", None).await;
    assert_eq!(info["objects"], json!(2), "{info}");
    assert_eq!(info["size"], json!(1024), "{info}");
    assert_eq!(info["owner"], json!("admin"), "{info}");
    assert_eq!(info["grants"], json!([]), "{info}");

    // Malformed, mistyped, unknown-field and oversized bodies: 400, no change.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(100 * 1024));
    let bad_bodies = [
        ("/v1/keys", "{not json".to_string()),
        ("/v1/keys", "{\"name\": 5}".to_string()),
        (
            "/v1/keys",
            "{\"name\": \"ok-name\", \"extra\": 1}".to_string(),
        ),
        ("/v1/keys", "{\"name\": \"bad name!\"}".to_string()),
        (
            "/v1/keys",
            "{\"name\": \"dated\", \"expires\": \"someday\"}".to_string(),
        ),
        ("/v1/keys", big.clone()),
        ("/v1/buckets/admin-bucket/allow", "[]".to_string()),
        (
            "/v1/buckets/admin-bucket/allow",
            "{\"key\": \"app\"}".to_string(),
        ),
        ("/v1/buckets/admin-bucket/allow", big),
    ];
    for (path, body) in bad_bodies {
        let (s, v) = call(
            &server,
            Method::POST,
            path,
            Some(ADMIN_TOKEN),
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{path} {:.60}: {v}", body);
        assert_eq!(v["error"], json!("bad_request"), "{v}");
    }
    let (_, keys_after) = ok(&server, Method::GET, "/v1/keys", None).await;
    assert_eq!(keys_after, keys, "a refused body changed the keys");
    let (_, info_after) = ok(&server, Method::GET, "/v1/buckets/admin-bucket", None).await;
    assert_eq!(info_after["grants"], json!([]));

    // Unknown names: 404; a taken name: 409; the admin key stays.
    assert_eq!(
        ok(&server, Method::GET, "/v1/keys/nobody", None).await.0,
        404
    );
    assert_eq!(
        ok(&server, Method::GET, "/v1/buckets/no-such-bucket", None)
            .await
            .0,
        404
    );
    assert_eq!(
        ok(
            &server,
            Method::POST,
            "/v1/keys",
            Some(json!({"name": "app"}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        ok(&server, Method::DELETE, "/v1/keys/admin", None).await.0,
        409
    );

    // The OpenAPI document lists every endpoint.
    let (s, doc) = call(&server, Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in [
        "/v1/keys",
        "/v1/keys/{name}",
        "/v1/keys/{name}/disable",
        "/v1/buckets/{bucket}/allow",
        "/v1/cluster",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // The key listing never holds a secret.
    assert!(!keys.to_string().contains(&secret));
    for file in server.log_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for s in [secret.as_str(), SECRET_KEY, ADMIN_TOKEN] {
            assert!(!text.contains(s), "a secret is in {}", file.display());
        }
    }
}

/// Runs `cairn ARGS --admin URL` with the admin token in the environment.
fn cairn(server: &Server, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(cairn_bin())
        .args(args)
        .arg("--admin")
        .arg(server.admin_url())
        .env("CAIRN_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} in {text}"))
}

#[tokio::test]
async fn cli_round_trip() {
    let server = Server::start_default().await;
    create_bucket(&server.client(), "cli-bucket").await;
    put(&server.client(), "cli-bucket", "file", "contents").await;

    let (done, out) = cairn(&server, &["key", "create", "webshop", "--expires", "30d"]);
    assert!(done, "{out}");
    let (ak, sk) = (
        field(&out, "access key:").to_string(),
        field(&out, "secret key:").to_string(),
    );
    let shop = server.client_with(&ak, &sk);
    assert!(shop
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .is_empty());
    assert_err(
        shop.get_object()
            .bucket("cli-bucket")
            .key("file")
            .send()
            .await,
        403,
        &["AccessDenied"],
    );

    let (done, out) = cairn(
        &server,
        &[
            "bucket",
            "allow",
            "--read",
            "cli-bucket",
            "--key",
            "webshop",
        ],
    );
    assert!(done, "{out}");
    assert!(out.contains("grant:   webshop (read)"), "{out}");
    assert_eq!(get_bytes(&shop, "cli-bucket", "file").await, b"contents");

    let (done, out) = cairn(&server, &["key", "list"]);
    assert!(
        done && out.contains("webshop") && out.contains(&ak) && !out.contains(&sk),
        "{out}"
    );
    let (done, out) = cairn(&server, &["key", "info", "webshop"]);
    assert!(
        done && out.contains("bucket:     cli-bucket (read)"),
        "{out}"
    );
    let (done, out) = cairn(&server, &["bucket", "list"]);
    assert!(done && out.contains("cli-bucket"), "{out}");
    let (done, out) = cairn(&server, &["bucket", "info", "cli-bucket"]);
    assert!(
        done && out.contains("objects: 1") && out.contains("size:    8 bytes"),
        "{out}"
    );

    let (done, out) = cairn(&server, &["key", "disable", "webshop"]);
    assert!(done && out.contains("disabled"), "{out}");
    assert_err(
        shop.list_buckets().send().await,
        403,
        &["InvalidAccessKeyId"],
    );
    let (done, out) = cairn(&server, &["key", "enable", "webshop"]);
    assert!(done, "{out}");
    assert_eq!(get_bytes(&shop, "cli-bucket", "file").await, b"contents");
    let (done, out) = cairn(
        &server,
        &["bucket", "deny", "--read", "cli-bucket", "--key", "webshop"],
    );
    assert!(done, "{out}");
    assert_err(
        shop.get_object()
            .bucket("cli-bucket")
            .key("file")
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    let (done, out) = cairn(&server, &["key", "delete", "webshop"]);
    assert!(done, "{out}");
    assert_err(
        shop.list_buckets().send().await,
        403,
        &["InvalidAccessKeyId"],
    );

    // Refusals are errors with the API's message and a non-zero exit.
    let (done, out) = cairn(&server, &["key", "info", "webshop"]);
    assert!(!done && out.contains("404"), "{out}");
    let out = std::process::Command::new(cairn_bin())
        .args(["key", "list", "--admin", &server.admin_url()])
        .env("CAIRN_ADMIN_TOKEN", "not-the-token-not-the-token")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    for file in server.log_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(&sk) && !text.contains(SECRET_KEY),
            "a secret is in {}",
            file.display()
        );
    }
}

/// `cairn server` without a configured key generates one and prints its secret
/// once; a restart prints it no more, and the admin token is never printed.
#[tokio::test]
async fn generated_secret_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut outputs = Vec::new();
    for run in 0..2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let admin = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log_path = dir.path().join(format!("run{run}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = std::process::Command::new(cairn_bin())
            .args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(&data)
            .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
            .env_remove("CAIRN_ACCESS_KEY")
            .env_remove("CAIRN_SECRET_KEY")
            .env_remove("CAIRN_ADMIN_TOKEN")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .is_err()
        {
            assert!(start.elapsed().as_secs() < 30, "server did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Give the banner time to be flushed.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        outputs.push(std::fs::read_to_string(&log_path).unwrap());
    }
    let secret = field(&outputs[0], "secret key:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 40, "{}", outputs[0]);
    assert_eq!(outputs[0].matches(&secret).count(), 1, "{}", outputs[0]);
    assert!(
        !outputs[1].contains(&secret),
        "printed again: {}",
        outputs[1]
    );
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for file in ["admin.token", "access-keys.seal"] {
        let mode = std::fs::metadata(data.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    for out in &outputs {
        assert!(
            !out.contains(token.trim()),
            "the admin token was printed: {out}"
        );
        assert!(
            out.contains("admin.token"),
            "the token's file is named: {out}"
        );
    }
    // The catalog holds the secret sealed, not in the clear.
    let mut plain = false;
    for entry in walk(&data) {
        if let Ok(bytes) = std::fs::read(&entry) {
            plain |= bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        }
    }
    assert!(
        !plain,
        "the secret is stored in the clear under the data directory"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
