//! Guest identities: generated names, and the secret that resumes a guest.

use roster_kit::FieldViolation;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a guest secret: enough that a plain SHA-256 of it is a safe
/// stored form (no salt or slow hash needed against guessing).
const SECRET_BYTES: usize = 32;
pub const GUEST_SECRET_CHARS: usize = SECRET_BYTES * 2;

/// A fresh name for a guest who did not bring one.
pub fn generated_guest_name() -> String {
    format!("guest-{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// The secret a guest resumes its identity with: handed out once when Login
/// creates the guest; only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct GuestSecret(String);

impl std::fmt::Debug for GuestSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestSecret(***)")
    }
}

impl GuestSecret {
    pub fn generate() -> Self {
        Self(hex::encode(rand::random::<[u8; SECRET_BYTES]>()))
    }

    /// `None` when empty.
    pub fn parse(raw: &str, field: &str) -> Result<Option<Self>, FieldViolation> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() == GUEST_SECRET_CHARS && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Some(Self(raw.to_ascii_lowercase())));
        }
        Err(FieldViolation::new(
            field,
            format!(
                "must be the {GUEST_SECRET_CHARS} hex characters LoginResponse.guest_secret returned"
            ),
        ))
    }

    /// What the store keeps: lowercase hex SHA-256 of the secret.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether this is the secret whose [`hash`](Self::hash) is `stored_hash`,
    /// compared in constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash().as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let secret = GuestSecret::generate();
        let other = GuestSecret::generate();
        assert!(secret.matches(&secret.hash()));
        assert!(!other.matches(&secret.hash()));
        assert!(!secret.matches(""));
        let parsed = GuestSecret::parse(&secret.expose().to_uppercase(), "guest_secret");
        assert_eq!(parsed.ok().flatten(), Some(secret.clone()));
        assert_eq!(format!("{secret:?}"), "GuestSecret(***)");
    }

    #[test]
    fn generated_names_are_valid_user_names() {
        let name = generated_guest_name();
        assert!(crate::domain::fields::UserName::parse(&name, "name").is_ok());
    }

    proptest! {
        #[test]
        fn any_input_parses_or_names_its_field(raw in ".{0,80}|[0-9a-fA-F]{64}") {
            match GuestSecret::parse(&raw, "guest_secret") {
                Ok(None) => prop_assert!(raw.is_empty()),
                Ok(Some(secret)) => prop_assert_eq!(secret.expose().len(), GUEST_SECRET_CHARS),
                Err(violation) => prop_assert_eq!(violation.field, "guest_secret"),
            }
        }
    }
}
