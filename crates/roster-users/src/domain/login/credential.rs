//! The login credential a product backend makes for a native `Login`:
//! `auth_token` = lowercase hex HMAC-SHA256(users.login_secret,
//! "roster-login-v1\n" + name + "\n" + auth_expires_at), with `auth_expires_at`
//! in Unix seconds. It binds the name and the expiry, so it stops working at
//! that expiry and cannot be replayed forever.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use roster_kit::{Error, FieldViolation};
use sha2::Sha256;

use crate::domain::fields::UserName;

type HmacSha256 = Hmac<Sha256>;

/// Versions the message, so a future format cannot be confused with this one.
const CONTEXT: &str = "roster-login-v1";
/// Hex characters of an HMAC-SHA256 tag.
pub const AUTH_TOKEN_CHARS: usize = 64;

/// A credential as sent, well-formed but not verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCredential {
    tag: [u8; 32],
    expires_at: i64,
}

fn keyed(login_secret: &str, name: &str, expires_at: i64) -> HmacSha256 {
    let Ok(mut mac) = HmacSha256::new_from_slice(login_secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    // A name holds no control characters (see `UserName`), so the newlines
    // separate the parts unambiguously.
    mac.update(format!("{CONTEXT}\n{name}\n{expires_at}").as_bytes());
    mac
}

impl LoginCredential {
    /// The `auth_token` for `name` expiring at `expires_at` (Unix seconds), as a
    /// backend computes it (and `roster token login-auth` prints it).
    pub fn sign(login_secret: &str, name: &str, expires_at: i64) -> String {
        hex::encode(
            keyed(login_secret, name, expires_at)
                .finalize()
                .into_bytes(),
        )
    }

    /// Parses the two request fields; `None` when neither is set.
    pub fn parse(auth_token: &str, expires_at: i64) -> Result<Option<Self>, FieldViolation> {
        if auth_token.is_empty() {
            return match expires_at {
                0 => Ok(None),
                _ => Err(FieldViolation::new(
                    "auth_token",
                    "is required with auth_expires_at",
                )),
            };
        }
        if expires_at <= 0 {
            return Err(FieldViolation::new(
                "auth_expires_at",
                "is required with auth_token: the credential's expiry in Unix seconds",
            ));
        }
        let mut tag = [0u8; 32];
        if auth_token.len() != AUTH_TOKEN_CHARS
            || hex::decode_to_slice(auth_token, &mut tag).is_err()
        {
            return Err(FieldViolation::new(
                "auth_token",
                format!(
                    "must be {AUTH_TOKEN_CHARS} hex characters: HMAC-SHA256(users.login_secret, \
                     \"{CONTEXT}\\n\" + name + \"\\n\" + auth_expires_at)"
                ),
            ));
        }
        Ok(Some(Self { tag, expires_at }))
    }

    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Accepts the credential for `name` at `now` when its tag matches (compared
    /// in constant time), it has not expired, and it expires at most `max_ttl`
    /// after `now`.
    pub fn verify(
        &self,
        login_secret: &str,
        name: &UserName,
        now: DateTime<Utc>,
        max_ttl: Duration,
    ) -> Result<(), Error> {
        // Over the name exactly as sent: the backend signed those bytes.
        if keyed(login_secret, name.as_given(), self.expires_at)
            .verify_slice(&self.tag)
            .is_err()
        {
            return Err(Error::unauthenticated(
                "AUTH_TOKEN_INVALID",
                "auth_token does not match the name and auth_expires_at under this deployment's \
                 users.login_secret",
            ));
        }
        let now = now.timestamp();
        if self.expires_at <= now {
            return Err(Error::unauthenticated(
                "AUTH_TOKEN_EXPIRED",
                format!(
                    "the login credential expired {} s ago; make a new one",
                    now.saturating_sub(self.expires_at)
                ),
            ));
        }
        let max_ttl = i64::try_from(max_ttl.as_secs()).unwrap_or(i64::MAX);
        let ahead = self.expires_at.saturating_sub(now);
        if ahead > max_ttl {
            return Err(Error::unauthenticated(
                "AUTH_TOKEN_INVALID",
                format!(
                    "auth_expires_at is {} s ahead; a login credential may live at most {max_ttl} s \
                     (users.login_credential_max_ttl_secs)",
                    ahead
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TTL: Duration = Duration::from_secs(600);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    fn name(raw: &str) -> UserName {
        UserName::parse(raw, "name").unwrap_or_else(|v| panic!("{v:?}"))
    }

    fn credential(secret: &str, name: &str, expires_at: i64) -> LoginCredential {
        LoginCredential::parse(&LoginCredential::sign(secret, name, expires_at), expires_at)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("a signed credential parses"))
    }

    fn reason(result: Result<(), Error>) -> Option<&'static str> {
        result.err().map(|e| e.reason)
    }

    #[test]
    fn the_documented_example_signs_as_python_and_openssl_do() {
        assert_eq!(
            LoginCredential::sign("s3cret", "jane", 1_767_225_600),
            "cf65b1daebfb9840829fbefbd60ae495731e67aee8c86c32223775c5dbd7ded4"
        );
    }

    #[test]
    fn a_credential_verifies_only_for_its_name_secret_and_expiry() {
        let jane = credential("s3cret", "jane", 1_000);
        assert_eq!(
            reason(jane.verify("s3cret", &name("jane"), at(900), TTL)),
            None
        );
        assert_eq!(
            reason(jane.verify("s3cret", &name("john"), at(900), TTL)),
            Some("AUTH_TOKEN_INVALID")
        );
        assert_eq!(
            reason(jane.verify("other", &name("jane"), at(900), TTL)),
            Some("AUTH_TOKEN_INVALID")
        );
        // The expiry is signed: moving it breaks the tag.
        let moved = LoginCredential {
            expires_at: 2_000,
            ..jane.clone()
        };
        assert_eq!(
            reason(moved.verify("s3cret", &name("jane"), at(900), TTL)),
            Some("AUTH_TOKEN_INVALID")
        );
    }

    #[test]
    fn a_credential_works_until_its_expiry_and_not_after() {
        let jane = credential("s3cret", "jane", 1_000);
        assert_eq!(
            reason(jane.verify("s3cret", &name("jane"), at(999), TTL)),
            None
        );
        // Replayed once expired: refused, however often it worked before.
        assert_eq!(
            reason(jane.verify("s3cret", &name("jane"), at(1_000), TTL)),
            Some("AUTH_TOKEN_EXPIRED")
        );
        assert_eq!(
            reason(jane.verify("s3cret", &name("jane"), at(100_000), TTL)),
            Some("AUTH_TOKEN_EXPIRED")
        );
    }

    #[test]
    fn a_credential_may_not_live_longer_than_the_maximum() {
        let far = credential("s3cret", "jane", 1_000 + 601);
        assert_eq!(
            reason(far.verify("s3cret", &name("jane"), at(1_000), TTL)),
            Some("AUTH_TOKEN_INVALID")
        );
        let edge = credential("s3cret", "jane", 1_000 + 600);
        assert_eq!(
            reason(edge.verify("s3cret", &name("jane"), at(1_000), TTL)),
            None
        );
    }

    #[test]
    fn the_fields_come_together() {
        assert_eq!(LoginCredential::parse("", 0), Ok(None));
        let field = |token: &str, at| LoginCredential::parse(token, at).err().map(|v| v.field);
        assert_eq!(field("", 5).as_deref(), Some("auth_token"));
        assert_eq!(
            field(&"a".repeat(64), 0).as_deref(),
            Some("auth_expires_at")
        );
        assert_eq!(
            field(&"a".repeat(64), -1).as_deref(),
            Some("auth_expires_at")
        );
        assert_eq!(field(&"a".repeat(63), 5).as_deref(), Some("auth_token"));
        assert_eq!(field(&"g".repeat(64), 5).as_deref(), Some("auth_token"));
    }

    proptest! {
        #[test]
        fn any_input_parses_or_names_its_field(token in ".{0,80}|[0-9a-fA-F]{64}", expires_at in any::<i64>()) {
            match LoginCredential::parse(&token, expires_at) {
                Ok(None) => prop_assert!(token.is_empty() && expires_at == 0),
                Ok(Some(parsed)) => prop_assert_eq!(parsed.expires_at(), expires_at),
                Err(violation) => prop_assert!(
                    ["auth_token", "auth_expires_at"].contains(&violation.field.as_str()),
                    "{violation:?}"
                ),
            }
        }

        #[test]
        fn a_genuine_credential_verifies_exactly_inside_its_window(
            expires_at in 1..i64::MAX,
            now in 0..i64::from(i32::MAX) * 2,
        ) {
            let genuine = credential("s3cret", "jane", expires_at);
            let result = reason(genuine.verify("s3cret", &name("jane"), at(now), TTL));
            let expected = if expires_at <= now {
                Some("AUTH_TOKEN_EXPIRED")
            } else if expires_at - now > 600 {
                Some("AUTH_TOKEN_INVALID")
            } else {
                None
            };
            prop_assert_eq!(result, expected);
        }

        #[test]
        fn any_credential_verifies_or_is_refused_as_unauthenticated(
            token in "[0-9a-f]{64}",
            expires_at in 1..i64::MAX,
            now in 0..i64::from(i32::MAX),
        ) {
            let parsed = LoginCredential::parse(&token, expires_at).ok().flatten();
            prop_assert!(parsed.is_some());
            if let Some(parsed) = parsed {
                let result = parsed.verify("s3cret", &name("jane"), at(now), TTL);
                let err = result.err();
                prop_assert!(err.is_some(), "a random tag never verifies");
                if let Some(err) = err {
                    prop_assert_eq!(err.kind, roster_kit::error::ErrorKind::Unauthenticated);
                }
            }
        }
    }
}
