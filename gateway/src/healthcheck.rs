//! `cairn healthcheck`: one GET of a `/health` URL, success only on 200 — the probe a
//! container health check or a service manager runs (an image built `FROM scratch`
//! has no curl or shell).

use crate::bench::error_chain;
use std::time::Duration;

/// Options of `cairn healthcheck`.
#[derive(clap::Args, Debug)]
pub struct HealthcheckArgs {
    /// URL to GET: a gateway's or `cairn server`'s S3 endpoint, or a node's RPC
    /// address, followed by /health.
    #[arg(long, default_value = "http://127.0.0.1:9000/health")]
    pub url: String,
    /// Seconds the whole request may take.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
    /// For an https URL: PEM certificate of the CA (or the self-signed
    /// certificate) the server's certificate must be signed by; default: the
    /// system's roots.
    #[arg(long, env = "CAIRN_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<std::path::PathBuf>,
}

/// GETs the URL; Ok when the answer is 200, else what went wrong.
pub async fn run(args: HealthcheckArgs) -> Result<(), String> {
    if args.timeout == 0 {
        return Err("--timeout must be positive".to_string());
    }
    let client = crate::tls::client_trusting(args.ca_cert.as_deref())
        .map_err(|e| format!("healthcheck: {e}"))?
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .map_err(|e| format!("healthcheck: {e}"))?;
    let resp = client
        .get(&args.url)
        .send()
        .await
        .map_err(|e| format!("healthcheck {}: {}", args.url, error_chain(&e)))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("healthcheck {}: answered {status}", args.url));
    }
    println!("{}: {status}", args.url);
    Ok(())
}
