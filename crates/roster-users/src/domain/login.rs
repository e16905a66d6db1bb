//! Secured-mode login tokens and guest names.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The auth token a backend computes for a secured-mode login: lowercase hex of
/// HMAC-SHA256(login_secret, name).
pub fn login_auth_token(login_secret: &str, name: &str) -> String {
    let mut mac = match HmacSha256::new_from_slice(login_secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot run.
        Err(_) => return String::new(),
    };
    mac.update(name.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a secured-mode auth token.
pub fn verify_login_auth_token(login_secret: &str, name: &str, token: &str) -> bool {
    let Ok(tag) = hex::decode(token) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(login_secret.as_bytes()) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

/// A fresh name for a guest who did not bring one.
pub fn generated_guest_name() -> String {
    format!("guest-{}", hex::encode(rand::random::<[u8; 8]>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_tokens_verify_only_for_their_name_and_secret() {
        let token = login_auth_token("s3cret", "jane");
        assert!(verify_login_auth_token("s3cret", "jane", &token));
        assert!(!verify_login_auth_token("s3cret", "john", &token));
        assert!(!verify_login_auth_token("other", "jane", &token));
        assert!(!verify_login_auth_token("s3cret", "jane", "zz"));
    }
}
