//! `cairn key …` and `cairn bucket …`: operator commands that talk to the admin
//! API (`--admin URL`, default http://127.0.0.1:9002; the token from
//! `CAIRN_ADMIN_TOKEN` or `--admin-token-file`, default `./cairn-data/admin.token`;
//! over HTTPS, `--ca-cert` names the CA to trust) and print its answers as text (or JSON with `--json`).

use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::PathBuf;

/// Where the admin API is and how to authenticate.
#[derive(Args, Clone)]
pub struct AdminTarget {
    /// The admin API's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9002", global = true)]
    pub admin: String,
    /// File holding the admin token (when CAIRN_ADMIN_TOKEN is not set).
    #[arg(long, default_value = "./cairn-data/admin.token", global = true)]
    pub admin_token_file: PathBuf,
    /// PEM certificate of the CA (or the self-signed certificate) the admin
    /// API's HTTPS certificate must be signed by; default: the system's roots.
    #[arg(long, env = "CAIRN_CA_CERT", value_name = "PEM", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Print the API's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; its secret is printed this once.
    Create {
        name: String,
        /// An RFC 3339 instant or date (2027-01-31), or a duration (90d, 12h, 30m).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List every key.
    List,
    /// Show a key and the buckets it owns or was granted.
    Info { name: String },
    /// Refuse the key's requests (within a second on every gateway).
    Disable { name: String },
    /// Accept the key's requests again.
    Enable { name: String },
    /// Delete the key and its grants.
    Delete { name: String },
}

/// The permissions an allow or deny names.
#[derive(Args)]
pub struct GrantArgs {
    pub bucket: String,
    /// The key's name.
    #[arg(long)]
    pub key: String,
    #[arg(long)]
    pub read: bool,
    #[arg(long)]
    pub write: bool,
    #[arg(long)]
    pub owner: bool,
}

#[derive(Subcommand)]
pub enum BucketCommand {
    /// Grant a key read, write and/or owner on a bucket.
    Allow(GrantArgs),
    /// Take a key's read, write and/or owner on a bucket away.
    Deny(GrantArgs),
    /// List every bucket with its owner, size and object count.
    List,
    /// Show a bucket: size, objects, owner, grants.
    Info { bucket: String },
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn new(target: &AdminTarget) -> Result<Self, String> {
        let token = match std::env::var("CAIRN_ADMIN_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => std::fs::read_to_string(&target.admin_token_file)
                .map(|t| t.trim().to_string())
                .map_err(|e| {
                    format!(
                        "no admin token: set CAIRN_ADMIN_TOKEN or --admin-token-file ({}: {e})",
                        target.admin_token_file.display()
                    )
                })?,
        };
        let http = crate::tls::client_trusting(target.ca_cert.as_deref())
            .map_err(|e| e.to_string())?
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Api {
            base: target.admin.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/v1{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("{url}: HTTP {status}, not a JSON answer"))?;
        if !status.is_success() {
            let message = value["message"].as_str().unwrap_or("(no message)");
            return Err(format!("{message} (HTTP {})", status.as_u16()));
        }
        Ok(value)
    }
}

/// Path segments are names checked by the server; encode them anyway.
fn seg(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

pub async fn run_key(target: AdminTarget, cmd: KeyCommand) -> Result<(), String> {
    use reqwest::Method;
    let api = Api::new(&target)?;
    let value = match &cmd {
        KeyCommand::Create { name, expires } => {
            let body = serde_json::json!({ "name": name, "expires": expires });
            api.call(Method::POST, "/keys", Some(body)).await?
        }
        KeyCommand::List => api.call(Method::GET, "/keys", None).await?,
        KeyCommand::Info { name } => {
            api.call(Method::GET, &format!("/keys/{}", seg(name)), None)
                .await?
        }
        KeyCommand::Disable { name } => {
            api.call(Method::POST, &format!("/keys/{}/disable", seg(name)), None)
                .await?
        }
        KeyCommand::Enable { name } => {
            api.call(Method::POST, &format!("/keys/{}/enable", seg(name)), None)
                .await?
        }
        KeyCommand::Delete { name } => {
            api.call(Method::DELETE, &format!("/keys/{}", seg(name)), None)
                .await?
        }
    };
    if target.json {
        println!("{value}");
        return Ok(());
    }
    match cmd {
        KeyCommand::Create { .. } => {
            println!("name:       {}", value["name"].as_str().unwrap_or(""));
            println!("access key: {}", value["access_key"].as_str().unwrap_or(""));
            println!("secret key: {}", value["secret_key"].as_str().unwrap_or(""));
            if let Some(e) = value["expires"].as_str() {
                println!("expires:    {e}");
            }
            println!("The secret is shown this once; it cannot be read back.");
        }
        KeyCommand::List => {
            println!(
                "{:<24} {:<22} {:<8} {:<6} EXPIRES",
                "NAME", "ACCESS KEY", "STATE", "ADMIN"
            );
            for k in value.as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<22} {:<8} {:<6} {}",
                    k["name"].as_str().unwrap_or(""),
                    k["access_key"].as_str().unwrap_or(""),
                    key_state(k),
                    if k["admin"].as_bool() == Some(true) {
                        "yes"
                    } else {
                        "no"
                    },
                    k["expires"].as_str().unwrap_or("never"),
                );
            }
        }
        KeyCommand::Delete { name } => println!("deleted key {name}"),
        KeyCommand::Info { .. } | KeyCommand::Disable { .. } | KeyCommand::Enable { .. } => {
            print_key(&value)
        }
    }
    Ok(())
}

fn key_state(k: &Value) -> &'static str {
    if k["expired"].as_bool() == Some(true) {
        "expired"
    } else if k["enabled"].as_bool() == Some(true) {
        "enabled"
    } else {
        "disabled"
    }
}

fn perms(v: &Value) -> String {
    let mut out = Vec::new();
    for p in ["read", "write", "owner"] {
        if v[p].as_bool() == Some(true) {
            out.push(p);
        }
    }
    out.join(",")
}

fn print_key(k: &Value) {
    println!("name:       {}", k["name"].as_str().unwrap_or(""));
    println!("access key: {}", k["access_key"].as_str().unwrap_or(""));
    println!("state:      {}", key_state(k));
    println!("admin:      {}", k["admin"].as_bool() == Some(true));
    println!("created:    {}", k["created"].as_str().unwrap_or(""));
    println!("expires:    {}", k["expires"].as_str().unwrap_or("never"));
    for b in k["buckets"].as_array().into_iter().flatten() {
        println!(
            "bucket:     {} ({})",
            b["bucket"].as_str().unwrap_or(""),
            perms(b)
        );
    }
}

fn print_bucket(b: &Value) {
    println!("name:    {}", b["name"].as_str().unwrap_or(""));
    println!("owner:   {}", b["owner"].as_str().unwrap_or(""));
    println!("created: {}", b["created"].as_str().unwrap_or(""));
    println!("objects: {}", b["objects"].as_u64().unwrap_or(0));
    println!("size:    {} bytes", b["size"].as_u64().unwrap_or(0));
    for g in b["grants"].as_array().into_iter().flatten() {
        println!(
            "grant:   {} ({})",
            g["key"].as_str().unwrap_or(""),
            perms(g)
        );
    }
}

pub async fn run_bucket(target: AdminTarget, cmd: BucketCommand) -> Result<(), String> {
    use reqwest::Method;
    let api = Api::new(&target)?;
    let grant = |g: &GrantArgs, verb: &str| {
        let body =
            serde_json::json!({ "key": g.key, "read": g.read, "write": g.write, "owner": g.owner });
        (format!("/buckets/{}/{verb}", seg(&g.bucket)), body)
    };
    let value = match &cmd {
        BucketCommand::Allow(g) => {
            let (path, body) = grant(g, "allow");
            api.call(Method::POST, &path, Some(body)).await?
        }
        BucketCommand::Deny(g) => {
            let (path, body) = grant(g, "deny");
            api.call(Method::POST, &path, Some(body)).await?
        }
        BucketCommand::List => api.call(Method::GET, "/buckets", None).await?,
        BucketCommand::Info { bucket } => {
            api.call(Method::GET, &format!("/buckets/{}", seg(bucket)), None)
                .await?
        }
    };
    if target.json {
        println!("{value}");
        return Ok(());
    }
    match cmd {
        BucketCommand::List => {
            println!(
                "{:<40} {:<20} {:>10} {:>14}",
                "BUCKET", "OWNER", "OBJECTS", "BYTES"
            );
            for b in value.as_array().into_iter().flatten() {
                println!(
                    "{:<40} {:<20} {:>10} {:>14}",
                    b["name"].as_str().unwrap_or(""),
                    b["owner"].as_str().unwrap_or(""),
                    b["objects"].as_u64().unwrap_or(0),
                    b["size"].as_u64().unwrap_or(0),
                );
            }
        }
        _ => print_bucket(&value),
    }
    Ok(())
}
