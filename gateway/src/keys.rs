//! Making and changing access keys: new ids and secrets, key records sealed with
//! the store's sealing key, and the start-up key (the admin-owner): from
//! `CAIRN_ACCESS_KEY`/`CAIRN_SECRET_KEY` or `[s3]`, else the admin key already
//! kept, else one generated whose secret the caller prints once. Keys of the
//! legacy plain table are imported as admin keys (their rows then removed).

use crate::sealing::SealingKey;
use cairn_node::access::KeyRecord;
use cairn_node::NodeClient;

/// The name of the start-up key.
pub const ADMIN_NAME: &str = "admin";

/// Key names: 1–64 of letters, digits, '.', '_' and '-'.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

pub fn new_access_key() -> String {
    format!(
        "CK{}",
        random_string(18, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    )
}

pub fn new_secret() -> String {
    random_string(
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    )
}

pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A new key record for `secret`, enabled.
pub fn record(
    sealing: &SealingKey,
    name: &str,
    access_key: &str,
    secret: &str,
    expires_ms: Option<i64>,
    admin: bool,
) -> KeyRecord {
    KeyRecord {
        name: name.to_string(),
        access_key: access_key.to_string(),
        sealed_secret: sealing.seal(secret),
        created_ms: cairn_node::now_ms(),
        expires_ms,
        enabled: true,
        admin,
    }
}

/// The start-up key, as it is to be announced.
pub enum StartKey {
    /// Given by the environment or the cluster file (its secret is the operator's).
    Configured { access_key: String },
    /// An admin key kept from an earlier start (its secret was printed then).
    Kept { access_key: String },
    /// Generated now: the only time its secret is shown.
    Generated { access_key: String, secret: String },
}

/// Settles the start-up key (see the file comment).
pub async fn bootstrap(
    node: &NodeClient,
    sealing: &SealingKey,
    configured: Option<(String, String)>,
) -> cairn_node::Result<StartKey> {
    import_legacy(node, sealing).await?;
    let state = node.access_state().await?;
    let free_name = |wanted: &str, id: &str| {
        if state
            .keys
            .iter()
            .any(|k| k.name == wanted && k.access_key != id)
        {
            format!("{wanted}-{}", id.to_ascii_lowercase())
        } else {
            wanted.to_string()
        }
    };
    if let Some((access_key, secret)) = configured {
        let existing = state.keys.iter().find(|k| k.access_key == access_key);
        let current = existing.is_some_and(|k| {
            k.admin && sealing.open(&k.sealed_secret).ok().as_deref() == Some(secret.as_str())
        });
        if !current {
            let mut rec = record(
                sealing,
                &free_name(ADMIN_NAME, &access_key),
                &access_key,
                &secret,
                None,
                true,
            );
            if let Some(old) = existing {
                rec.name = old.name.clone();
                rec.created_ms = old.created_ms;
                rec.enabled = old.enabled;
            }
            node.put_key_record(rec).await?;
        }
        return Ok(StartKey::Configured { access_key });
    }
    if let Some(admin) = state.keys.iter().find(|k| k.admin) {
        return Ok(StartKey::Kept {
            access_key: admin.access_key.clone(),
        });
    }
    let (access_key, secret) = (new_access_key(), new_secret());
    let rec = record(sealing, ADMIN_NAME, &access_key, &secret, None, true);
    match node.put_key_record(rec).await {
        Ok(()) => Ok(StartKey::Generated { access_key, secret }),
        // Another gateway of the cluster made the admin key meanwhile.
        Err(cairn_node::Error::InvalidArgument(_)) => {
            let state = node.access_state().await?;
            match state.keys.iter().find(|k| k.admin) {
                Some(k) => Ok(StartKey::Kept {
                    access_key: k.access_key.clone(),
                }),
                None => Err(cairn_node::Error::Unavailable(
                    "the admin key could not be created".into(),
                )),
            }
        }
        Err(e) => Err(e),
    }
}

/// Moves keys of the legacy plain table into sealed admin key records.
async fn import_legacy(node: &NodeClient, sealing: &SealingKey) -> cairn_node::Result<()> {
    let legacy = node.list_keys().await?;
    if legacy.is_empty() {
        return Ok(());
    }
    let state = node.access_state().await?;
    let mut names: Vec<String> = state.keys.iter().map(|k| k.name.clone()).collect();
    for (access_key, secret) in legacy {
        let name = if names.iter().any(|n| n == ADMIN_NAME) {
            format!("legacy-{}", access_key.to_ascii_lowercase())
        } else {
            ADMIN_NAME.to_string()
        };
        let rec = record(sealing, &name, &access_key, &secret, None, true);
        node.put_key_record(rec).await?;
        names.push(name);
    }
    tracing::info!("imported the access keys of the plain key table as admin keys");
    Ok(())
}
