//! The admin token: `CAIRN_ADMIN_TOKEN`, else the file of `--admin-token-file`,
//! else (in `cairn server`) `DATA_DIR/admin.token`, generated 0600 on first start.
//! Only where it came from is ever printed, never the token.

use crate::server::{AdminListen, ServerError};
use std::net::SocketAddr;
use std::path::Path;

/// The generated token's file in the embedded store's data directory.
pub const TOKEN_FILE: &str = "admin.token";
/// Shortest token accepted.
const MIN_LEN: usize = 16;

fn read_token(path: &Path) -> Result<String, ServerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServerError::AdminToken(format!("{}: {e}", path.display())))?;
    let token = text.trim().to_string();
    if token.len() < MIN_LEN {
        return Err(ServerError::AdminToken(format!(
            "{}: the token must be at least {MIN_LEN} characters",
            path.display()
        )));
    }
    Ok(token)
}

/// The admin listener's settings; `data_dir` is where a token is generated when
/// none is given (`None` on a cluster gateway: one must be given).
pub fn admin_listen(
    listen: SocketAddr,
    token_file: Option<&Path>,
    data_dir: Option<&Path>,
    required: bool,
) -> Result<AdminListen, ServerError> {
    let given = |token: String, token_source: String| AdminListen {
        listen,
        token,
        token_source,
        cluster: None,
        required,
    };
    if let Some(token) = std::env::var("CAIRN_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        if token.trim().len() < MIN_LEN {
            return Err(ServerError::AdminToken(format!(
                "CAIRN_ADMIN_TOKEN must be at least {MIN_LEN} characters"
            )));
        }
        return Ok(given(
            token.trim().to_string(),
            "from CAIRN_ADMIN_TOKEN".into(),
        ));
    }
    if let Some(path) = token_file {
        return Ok(given(read_token(path)?, format!("in {}", path.display())));
    }
    let Some(dir) = data_dir else {
        return Err(ServerError::AdminToken(
            "--admin-listen on a gateway needs CAIRN_ADMIN_TOKEN or --admin-token-file".into(),
        ));
    };
    let path = dir.join(TOKEN_FILE);
    if !path.exists() {
        let token = hex::encode(rand::random::<[u8; 24]>());
        crate::sealing::write_private(&path, format!("{token}\n").as_bytes())
            .map_err(|e| ServerError::AdminToken(format!("{}: {e}", path.display())))?;
    }
    Ok(given(read_token(&path)?, format!("in {}", path.display())))
}

/// Whether `given` is the token, compared in constant time.
pub fn matches(token: &str, given: &str) -> bool {
    let (a, b) = (token.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
