//! The key that seals access-key secrets at rest (ChaCha20-Poly1305): in `cairn
//! server` 32 random bytes in `DATA_DIR/access-keys.seal` (created 0600 on first
//! start); on a cluster derived from the cluster secret of `cluster.toml` (BLAKE3
//! key derivation), so every gateway opens what any other sealed. The catalog
//! holds only sealed secrets (nonce ‖ ciphertext ‖ tag).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// The sealing key's file in the embedded store's data directory.
pub const SEAL_FILE: &str = "access-keys.seal";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealing key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("sealing key file {0} does not hold a 32-byte key")]
    BadFile(String),
    #[error("a sealed secret does not open with this store's sealing key")]
    Open,
}

#[derive(Clone)]
pub struct SealingKey(Key);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key every gateway of a cluster derives from its shared secret.
    pub fn from_cluster_secret(secret: &str) -> Self {
        let bytes = blake3::derive_key("cairn 2026 access-key sealing v1", secret.as_bytes());
        SealingKey(Key::from(bytes))
    }

    /// Reads `DIR/access-keys.seal`, or creates it (0600) with a random key.
    pub fn load_or_create(dir: &Path) -> Result<Self, SealError> {
        let path = dir.join(SEAL_FILE);
        let err = |source| SealError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| SealError::BadFile(path.display().to_string()))?;
                Ok(SealingKey(Key::from(key)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                write_private(&path, &key).map_err(err)?;
                Ok(SealingKey(Key::from(key)))
            }
            Err(e) => Err(err(e)),
        }
    }

    pub fn seal(&self, secret: &str) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let cipher = ChaCha20Poly1305::new(&self.0);
        let mut out = nonce.to_vec();
        // Encryption of a short in-memory buffer cannot fail.
        if let Ok(sealed) = cipher.encrypt(Nonce::from_slice(&nonce), secret.as_bytes()) {
            out.extend_from_slice(&sealed);
        }
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

/// Creates `path` readable and writable by its owner only, holding `bytes`
/// (refused if it exists).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SealingKey::load_or_create(dir.path()).expect("create");
        let again = SealingKey::load_or_create(dir.path()).expect("load");
        let sealed = key.seal("s3cr3t");
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(again.open(&sealed).expect("open"), "s3cr3t");
        let other = SealingKey::from_cluster_secret("another-cluster-secret");
        assert!(other.open(&sealed).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(SEAL_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
