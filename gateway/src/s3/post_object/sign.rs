//! Who signed a POST object upload: SigV4 (`x-amz-algorithm`, `x-amz-credential`,
//! `x-amz-date`, `x-amz-signature` = hex HMAC-SHA256 of the base64 policy under
//! the day's signing key) or V2 (`AWSAccessKeyId`, `signature` = base64
//! HMAC-SHA1 of the base64 policy under the secret). Without a signature the
//! upload is anonymous.

use super::form::Fields;
use crate::auth::Authorizer;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use s3s::{s3_error, S3Result};

/// The access key whose signature over the policy checked out, or `None` for an
/// upload with no signature fields.
pub async fn signer(auth: &Authorizer, form: &Fields, region: &str) -> S3Result<Option<String>> {
    if form.field("x-amz-security-token").is_some() {
        return Err(s3_error!(
            InvalidToken,
            "Cairn has no session tokens (x-amz-security-token)."
        ));
    }
    let policy = form.field("policy");
    if let Some(signature) = form.field("x-amz-signature") {
        let policy = policy.ok_or_else(|| missing("policy"))?;
        let algorithm = form
            .field("x-amz-algorithm")
            .ok_or_else(|| missing("x-amz-algorithm"))?;
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(crate::s3::error::invalid_argument(format!(
                "Unsupported x-amz-algorithm {algorithm}: only AWS4-HMAC-SHA256."
            )));
        }
        let credential = form
            .field("x-amz-credential")
            .ok_or_else(|| missing("x-amz-credential"))?;
        form.field("x-amz-date")
            .ok_or_else(|| missing("x-amz-date"))?;
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key, date, scope_region, service, "aws4_request"] = parts[..] else {
            return Err(crate::s3::error::invalid_argument(
                "x-amz-credential is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request",
            ));
        };
        if scope_region != region {
            return Err(crate::s3::error::invalid_argument(format!(
                "the region '{scope_region}' is wrong; expecting '{region}'"
            )));
        }
        let secret = auth.secret_of(access_key).await?;
        let key = crate::bench::sigv4::signing_key(&secret, date, scope_region, service);
        let expected = hex::encode(crate::bench::sigv4::hmac(&key, policy.as_bytes()));
        if !same(&expected, &signature.to_ascii_lowercase()) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        return Ok(Some(access_key.to_string()));
    }
    if let Some(signature) = form.field("signature") {
        let policy = policy.ok_or_else(|| missing("policy"))?;
        let access_key = form
            .field("awsaccesskeyid")
            .ok_or_else(|| missing("AWSAccessKeyId"))?;
        let secret = auth.secret_of(access_key).await?;
        let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(policy.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if !same(&expected, signature) {
            return Err(s3_error!(SignatureDoesNotMatch));
        }
        return Ok(Some(access_key.to_string()));
    }
    Ok(None)
}

fn missing(field: &str) -> s3s::S3Error {
    crate::s3::error::invalid_argument(format!(
        "Bucket POST must contain a field named '{field}'. If it is specified, please check the order of the fields."
    ))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
