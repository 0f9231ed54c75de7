//! `cairn cluster certs --out DIR`: the cluster CA (`ca.crt`, `ca.key`), a
//! certificate for every node of the cluster file (`node-ID.crt`/`.key`, naming
//! the host of its address, for serving and for dialling other nodes) and one for
//! gateways and `cairn cluster` commands (`gateway.crt`/`.key`), the names
//! `[tls] ca = "DIR/ca.crt"` looks for by default. Run again after adding nodes:
//! the CA and the files already there are kept, the missing ones are made.

use super::self_signed::{host_of, valid_for_days};
use cairn_node::cluster::config::ClusterConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("node {id}: cannot tell the host of address {address:?}")]
    Address { id: u64, address: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CertsError {
    let path = path.to_path_buf();
    move |source| CertsError::Io { path, source }
}

/// The CA's name: fixed, so a kept `ca.key` signs as the kept `ca.crt`.
fn ca_params() -> Result<CertificateParams, CertsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Cairn cluster CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    valid_for_days(&mut params, 20 * 365);
    Ok(params)
}

/// The CA of `dir`: kept if both files are there, else made now.
fn ca(dir: &Path, report: &mut Vec<String>) -> Result<Issuer<'static, KeyPair>, CertsError> {
    let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
    if crt.exists() && key.exists() {
        let pem = std::fs::read_to_string(&key).map_err(io(&key))?;
        let keypair = KeyPair::from_pem(&pem).map_err(|e| CertsError::Invalid {
            path: key.clone(),
            msg: e.to_string(),
        })?;
        let cert = cairn_node::tls::load_certs(&crt).map_err(|e| CertsError::Invalid {
            path: crt.clone(),
            msg: e.to_string(),
        })?;
        let public = keypair.public_key_raw();
        if !cert[0].windows(public.len()).any(|w| w == public) {
            return Err(CertsError::Invalid {
                path: key,
                msg: format!("is not the key of {}", crt.display()),
            });
        }
        report.push(format!("kept     {} (the cluster CA)", crt.display()));
        return Ok(Issuer::new(ca_params()?, keypair));
    }
    let keypair = KeyPair::generate()?;
    let params = ca_params()?;
    let cert = params.self_signed(&keypair)?;
    super::write_private(&key, &keypair.serialize_pem()).map_err(io(&key))?;
    std::fs::write(&crt, cert.pem()).map_err(io(&crt))?;
    report.push(format!(
        "made     {} (the cluster CA; keep {} safe, it signs new members)",
        crt.display(),
        key.display()
    ));
    Ok(Issuer::new(params, keypair))
}

/// A leaf certificate `name` for `sans`, signed by `ca`, unless its files exist.
fn leaf(
    dir: &Path,
    name: &str,
    common_name: &str,
    sans: Vec<String>,
    ca: &Issuer<'_, KeyPair>,
    report: &mut Vec<String>,
) -> Result<(), CertsError> {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    if crt.exists() && key.exists() {
        report.push(format!("kept     {}", crt.display()));
        return Ok(());
    }
    let keypair = KeyPair::generate()?;
    let mut params = CertificateParams::new(sans.clone())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    valid_for_days(&mut params, 10 * 365);
    let cert = params.signed_by(&keypair, ca)?;
    super::write_private(&key, &keypair.serialize_pem()).map_err(io(&key))?;
    std::fs::write(&crt, cert.pem()).map_err(io(&crt))?;
    report.push(format!(
        "made     {} for {}",
        crt.display(),
        sans.join(", ")
    ));
    Ok(())
}

/// Writes the CA and the certificates of `cfg`'s nodes and of gateways into
/// `dir`; returns what it did, one line per file, and the `[tls]` table to use.
pub fn run(cfg: &ClusterConfig, dir: &Path) -> Result<String, CertsError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut report = Vec::new();
    let ca = ca(dir, &mut report)?;
    for node in &cfg.nodes {
        let host = host_of(&node.address).ok_or_else(|| CertsError::Address {
            id: node.id,
            address: node.address.clone(),
        })?;
        let name = format!("node-{}", node.id);
        leaf(
            dir,
            &name,
            &format!("cairn node {}", node.id),
            vec![host],
            &ca,
            &mut report,
        )?;
    }
    let gateway_names = vec!["cairn-gateway".to_string()];
    leaf(
        dir,
        "gateway",
        "cairn gateway",
        gateway_names,
        &ca,
        &mut report,
    )?;
    let ca_path = std::path::absolute(dir.join("ca.crt")).unwrap_or_else(|_| dir.join("ca.crt"));
    report.push(String::new());
    report.push("Add to the cluster file (every process reads its own files from there):".into());
    report.push(format!("[tls]\nca = {:?}", ca_path.display().to_string()));
    Ok(report.join("\n"))
}
