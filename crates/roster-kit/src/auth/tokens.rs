//! Signed bearer tokens: minting with the newest signing key, verifying with
//! every key of the configured sets.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    cache::Cache,
    config::AuthSettings,
    error::Error,
    keys::{self, KeyPurpose, KeySet},
};

use super::Actor;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum TokenKind {
    Admin,
    User,
    Service,
    /// Not an identity: a link to download one file (see [`TokenKeys::issue_file_link`]).
    FileLink,
}

impl TokenKind {
    /// The purpose of the keys that may sign tokens of this kind.
    fn purpose(self) -> KeyPurpose {
        match self {
            TokenKind::Admin | TokenKind::User => KeyPurpose::Session,
            TokenKind::Service | TokenKind::FileLink => KeyPurpose::Service,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    iat: i64,
    exp: i64,
}

/// A token ready to hand out.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

struct SigningKey {
    purpose: KeyPurpose,
    kid: String,
    activates_at: i64,
    key: EncodingKey,
}

/// The keys in force: every key verifies, the newest active one of a purpose signs.
struct KeyRing {
    verifiers: HashMap<String, (KeyPurpose, DecodingKey)>,
    /// Newest activation first.
    signers: Vec<SigningKey>,
    public: KeySet,
}

impl KeyRing {
    fn from_sets(sets: impl IntoIterator<Item = KeySet>) -> Result<Self, Error> {
        let mut verifiers = HashMap::new();
        let mut signers = Vec::new();
        let mut public = KeySet::default();
        for key in sets.into_iter().flat_map(|set| set.keys) {
            key.check()?;
            let decoding = DecodingKey::from_ed_components(&key.x).map_err(Error::internal)?;
            match verifiers.get(&key.kid) {
                Some((purpose, _)) if *purpose != key.purpose => {
                    return Err(Error::internal(format!(
                        "key id {:?} appears with two purposes",
                        key.kid
                    )));
                }
                Some(_) => {}
                None => {
                    verifiers.insert(key.kid.clone(), (key.purpose, decoding));
                    public.keys.push(key.public());
                }
            }
            if let Some(der) = key.private_der()?
                && !signers.iter().any(|s: &SigningKey| s.kid == key.kid)
            {
                signers.push(SigningKey {
                    purpose: key.purpose,
                    kid: key.kid.clone(),
                    activates_at: key.activates_at,
                    key: EncodingKey::from_ed_der(&der),
                });
            }
        }
        signers.sort_by(|a, b| (b.activates_at, &b.kid).cmp(&(a.activates_at, &a.kid)));
        Ok(Self {
            verifiers,
            signers,
            public,
        })
    }

    fn signer(&self, purpose: KeyPurpose) -> Result<&SigningKey, Error> {
        let now = chrono::Utc::now().timestamp();
        self.signers
            .iter()
            .find(|s| s.purpose == purpose && s.activates_at <= now)
            .ok_or_else(|| {
                Error::internal(format!(
                    "this process holds no active {} signing key (auth.private_key_files)",
                    purpose.as_str()
                ))
            })
    }
}

/// Signs and verifies Roster tokens: EdDSA JWTs whose header names the key
/// (`kid`). See [`crate::keys`] for purposes and rotation. Keys loaded from
/// files can be re-read while running ([`TokenKeys::watch_files`]), so a
/// rotated key set takes effect without a restart.
pub struct TokenKeys {
    issuer: String,
    validation: Validation,
    ring: std::sync::RwLock<Arc<KeyRing>>,
    /// The key files this ring was read from (none for generated keys).
    files: Vec<PathBuf>,
    /// Tokens that verified, with their expiry: an Ed25519 verification costs
    /// more than the rest of a cached read, and a client sends the same token
    /// on every call. Emptied whenever the keys change.
    verified: Cache<String, (Actor, i64)>,
}

/// Verified tokens remembered at most (a session token is a few hundred bytes).
const VERIFIED_TOKENS: usize = 20_000;

/// Seconds past `exp` a token is still accepted (clock skew between processes).
const LEEWAY_SECS: u64 = 5;

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.ring();
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("verifying", &ring.verifiers.keys().collect::<Vec<_>>())
            .field(
                "signing",
                &ring.signers.iter().map(|s| &s.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn invalid_token() -> Error {
    Error::unauthenticated("TOKEN_INVALID", "the token is not valid")
}

fn load_sets(files: &[PathBuf]) -> Result<Vec<KeySet>, Error> {
    files.iter().map(|path| KeySet::load(path)).collect()
}

impl TokenKeys {
    /// Keys from key sets: every key verifies; keys with a private half sign.
    pub fn from_sets(issuer: &str, sets: impl IntoIterator<Item = KeySet>) -> Result<Self, Error> {
        Self::with_ring(issuer, KeyRing::from_sets(sets)?, Vec::new())
    }

    fn with_ring(issuer: &str, ring: KeyRing, files: Vec<PathBuf>) -> Result<Self, Error> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            issuer: issuer.to_owned(),
            validation,
            ring: std::sync::RwLock::new(Arc::new(ring)),
            files,
            verified: Cache::new("verified_tokens", VERIFIED_TOKENS),
        })
    }

    /// Fresh in-memory keys of both purposes (tests and benchmarks).
    pub fn generate(issuer: &str) -> Self {
        let now = chrono::Utc::now().timestamp();
        let mut set = KeySet::default();
        set.rotate(KeyPurpose::Session, now, now);
        set.rotate(KeyPurpose::Service, now, now);
        match Self::from_sets(issuer, [set]) {
            Ok(keys) => keys,
            // Freshly generated keys always check.
            Err(err) => unreachable!("generated keys did not load: {err}"),
        }
    }

    /// Keys from `auth.private_key_files` and `auth.public_key_files`; when both
    /// are empty, the embedded mode's keys under `<data_dir>/keys`, generated on
    /// first use.
    pub fn from_settings(settings: &AuthSettings, data_dir: &Path) -> Result<Self, Error> {
        let mut files: Vec<PathBuf> = settings
            .private_key_files
            .iter()
            .chain(&settings.public_key_files)
            .cloned()
            .collect();
        if files.is_empty() {
            for purpose in [KeyPurpose::Session, KeyPurpose::Service] {
                keys::embedded_keys(data_dir, purpose)?;
                files.push(keys::embedded_key_file(data_dir, purpose));
            }
        }
        let ring = KeyRing::from_sets(load_sets(&files)?)?;
        Self::with_ring(&settings.issuer, ring, files)
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the key files. A set that does not load leaves the keys in
    /// force as they were (and says why).
    pub fn reload(&self) -> Result<(), Error> {
        let ring = KeyRing::from_sets(load_sets(&self.files)?)?;
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
        // A retired key's tokens must stop verifying now.
        self.verified.clear();
        Ok(())
    }

    /// Re-reads the key files whenever one of them changes (checked every
    /// `interval`), until the returned task is dropped. Kubernetes updates a
    /// mounted Secret in place; this is how a rotated key set reaches a
    /// running process.
    pub fn watch_files(
        self: &Arc<Self>,
        interval: std::time::Duration,
    ) -> crate::tasks::BackgroundTask {
        let keys = Arc::downgrade(self);
        let stamp = |files: &[PathBuf]| -> Vec<Option<std::time::SystemTime>> {
            files
                .iter()
                .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .collect()
        };
        let mut seen = stamp(&self.files);
        crate::tasks::every(interval, move || {
            let keys = keys.upgrade();
            let changed = keys
                .as_ref()
                .map(|k| stamp(&k.files))
                .filter(|now| *now != seen);
            if let (Some(keys), Some(now)) = (keys, changed) {
                match keys.reload() {
                    Ok(()) => {
                        seen = now;
                        tracing::info!("token keys reloaded");
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "key files changed but did not load; keeping the keys in force")
                    }
                }
            }
            std::future::ready(())
        })
    }

    /// Whether this process holds an active key of `purpose`.
    pub fn can_sign(&self, purpose: KeyPurpose) -> bool {
        self.ring().signer(purpose).is_ok()
    }

    /// The public keys of `purpose`, e.g. the session keys products verify
    /// Roster sessions with.
    pub fn public_keys(&self, purpose: KeyPurpose) -> KeySet {
        self.ring().public.of(purpose)
    }

    pub fn issue_admin(
        &self,
        client: &str,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::Admin, client.to_owned(), None, ttl)
    }

    pub fn issue_user(
        &self,
        user_id: i64,
        generation: i64,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::User, user_id.to_string(), Some(generation), ttl)
    }

    pub fn issue_service(
        &self,
        name: &str,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::Service, name.to_owned(), None, ttl)
    }

    /// A link token that lets its bearer download file `file_id` until it expires.
    pub fn issue_file_link(
        &self,
        file_id: &str,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::FileLink, file_id.to_owned(), None, ttl)
    }

    fn issue(
        &self,
        kind: TokenKind,
        sub: String,
        generation: Option<i64>,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        let ring = self.ring();
        let signer = ring.signer(kind.purpose())?;
        let now = chrono::Utc::now();
        let ttl = chrono::Duration::from_std(ttl).map_err(Error::internal)?;
        let expires_at = now + ttl;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub,
            kind,
            generation,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signer.key).map_err(Error::internal)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Checks the header's key, the signature, the issuer, the expiry, and that
    /// the token's kind matches its key's purpose.
    fn decode(&self, token: &str) -> Result<Claims, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_token())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid_token());
        }
        let ring = self.ring();
        let (purpose, key) = header
            .kid
            .as_ref()
            .and_then(|kid| ring.verifiers.get(kid))
            .ok_or_else(|| {
                Error::unauthenticated(
                    "TOKEN_INVALID",
                    "the token is signed by a key this server does not know (unknown or retired)",
                )
            })?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    Error::unauthenticated("TOKEN_EXPIRED", "the token has expired")
                }
                _ => invalid_token(),
            })?
            .claims;
        if claims.kind.purpose() != *purpose {
            return Err(invalid_token());
        }
        Ok(claims)
    }

    /// Verifies a bearer token and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Actor, Error> {
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or_default();
        if let Some((actor, expires)) = self.verified.get(token)
            && chrono::Utc::now().timestamp() <= expires + leeway
        {
            return Ok(actor);
        }
        let epoch = self.verified.epoch();
        let claims = self.decode(token)?;
        let expires = claims.exp;
        let actor = self.actor_of(claims)?;
        self.verified
            .insert(token.to_owned(), (actor.clone(), expires), epoch);
        Ok(actor)
    }

    fn actor_of(&self, claims: Claims) -> Result<Actor, Error> {
        Ok(match claims.kind {
            TokenKind::Admin => Actor::Admin { client: claims.sub },
            TokenKind::Service => Actor::Service { name: claims.sub },
            TokenKind::User => Actor::User {
                user_id: claims.sub.parse().map_err(|_| invalid_token())?,
                generation: claims.generation.ok_or_else(invalid_token)?,
            },
            TokenKind::FileLink => return Err(invalid_token()),
        })
    }

    /// Verifies a file link token; returns the file it grants.
    pub fn verify_file_link(&self, token: &str) -> Result<String, Error> {
        let claims = self.decode(token)?;
        match claims.kind {
            TokenKind::FileLink => Ok(claims.sub),
            _ => Err(invalid_token()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Error>) -> Option<&'static str> {
        result.err().map(|e| e.reason)
    }

    #[test]
    fn tokens_round_trip_for_each_kind() {
        let keys = TokenKeys::generate("roster-test");
        let admin = ok(keys.issue_admin("ops", HOUR));
        assert_eq!(
            keys.verify(&admin.token).ok(),
            Some(Actor::Admin {
                client: "ops".into()
            })
        );
        let user = ok(keys.issue_user(42, 3, HOUR));
        assert_eq!(
            keys.verify(&user.token).ok(),
            Some(Actor::User {
                user_id: 42,
                generation: 3
            })
        );
        let service = ok(keys.issue_service("files", HOUR));
        assert_eq!(
            keys.verify(&service.token).ok(),
            Some(Actor::Service {
                name: "files".into()
            })
        );
        let header = ok(jsonwebtoken::decode_header(&user.token));
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert!(header.kid.is_some_and(|kid| kid.starts_with("session-")));
    }

    #[test]
    fn tokens_from_other_keys_or_issuers_are_refused() {
        let token = ok(TokenKeys::generate("roster-test").issue_admin("ops", HOUR));
        let other_keys = TokenKeys::generate("roster-test");
        assert_eq!(
            reason(other_keys.verify(&token.token)),
            Some("TOKEN_INVALID")
        );
    }

    #[test]
    fn a_token_is_accepted_only_from_a_key_of_its_own_purpose() {
        let keys = TokenKeys::generate("roster-test");
        // A session key signing a service token: what a stolen session key would try.
        let ring = keys.ring();
        let forged = |kind: TokenKind, purpose: KeyPurpose| {
            let signer = ring
                .signers
                .iter()
                .find(|s| s.purpose == purpose)
                .unwrap_or_else(|| panic!("no {purpose:?} signer"));
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                iss: "roster-test".into(),
                sub: "7".into(),
                kind,
                generation: Some(0),
                iat: now,
                exp: now + 60,
            };
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(signer.kid.clone());
            ok(jsonwebtoken::encode(&header, &claims, &signer.key))
        };
        let service_by_session_key = forged(TokenKind::Service, KeyPurpose::Session);
        assert_eq!(
            reason(keys.verify(&service_by_session_key)),
            Some("TOKEN_INVALID")
        );
        let user_by_service_key = forged(TokenKind::User, KeyPurpose::Service);
        assert_eq!(
            reason(keys.verify(&user_by_service_key)),
            Some("TOKEN_INVALID")
        );
        let admin_by_service_key = forged(TokenKind::Admin, KeyPurpose::Service);
        assert_eq!(
            reason(keys.verify(&admin_by_service_key)),
            Some("TOKEN_INVALID")
        );
    }

    /// An admin token that expired a minute ago (beyond the 5 s leeway).
    fn expired_a_minute_ago(keys: &TokenKeys) -> String {
        let expired = ok(keys.issue(TokenKind::Admin, "ops".into(), None, Duration::ZERO));
        // Leeway is 5 s; a token that expired a minute ago is refused as expired.
        let mut claims: Claims = ok(serde_json::from_slice(&ok(base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            expired.token.split('.').nth(1).unwrap_or_default(),
        ))));
        claims.exp -= 60;
        let ring = keys.ring();
        let signer = ok(ring.signer(KeyPurpose::Session));
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        ok(jsonwebtoken::encode(&header, &claims, &signer.key))
    }

    #[test]
    fn unsigned_and_expired_tokens_are_refused() {
        let keys = TokenKeys::generate("roster-test");
        let real = ok(keys.issue_admin("ops", HOUR)).token;
        let payload = real.split('.').nth(1).unwrap_or_default();
        for alg_none in [
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
            format!("eyJhbGciOiJub25lIn0.{payload}.c2ln"),
        ] {
            assert_eq!(reason(keys.verify(&alg_none)), Some("TOKEN_INVALID"));
        }
        let stale = expired_a_minute_ago(&keys);
        assert_eq!(reason(keys.verify(&stale)), Some("TOKEN_EXPIRED"));
    }

    #[test]
    fn file_links_are_not_identities_and_identities_are_not_links() {
        let keys = TokenKeys::generate("roster-test");
        let link = ok(keys.issue_file_link("f-1", HOUR)).token;
        assert_eq!(keys.verify_file_link(&link).ok().as_deref(), Some("f-1"));
        assert_eq!(reason(keys.verify(&link)), Some("TOKEN_INVALID"));
        let service = ok(keys.issue_service("files", HOUR)).token;
        assert_eq!(
            reason(keys.verify_file_link(&service)),
            Some("TOKEN_INVALID")
        );
    }

    #[test]
    fn rotation_refuses_no_token_that_should_be_accepted() {
        let now = chrono::Utc::now().timestamp();
        let mut private = KeySet::default();
        let first = private.rotate(KeyPurpose::Session, now - 100, now - 100);
        let before = ok(TokenKeys::from_sets("roster", [private.clone()]));
        let old_token = ok(before.issue_user(1, 0, HOUR)).token;

        // A new key published ahead of its activation verifies but does not sign yet.
        let second = private.rotate(KeyPurpose::Session, now, now + 3600);
        let published = ok(TokenKeys::from_sets("roster", [private.clone()]));
        let header = ok(jsonwebtoken::decode_header(
            &ok(published.issue_user(1, 0, HOUR)).token,
        ));
        assert_eq!(header.kid.as_deref(), Some(first.as_str()));
        assert!(published.verify(&old_token).is_ok());

        // Once active, the new key signs; tokens of the old key still verify,
        // also on a process that holds only the public keys.
        for key in &mut private.keys {
            if key.kid == second {
                key.activates_at = now;
            }
        }
        let rotated = ok(TokenKeys::from_sets("roster", [private.clone()]));
        let new_token = ok(rotated.issue_user(1, 0, HOUR)).token;
        let header = ok(jsonwebtoken::decode_header(&new_token));
        assert_eq!(header.kid.as_deref(), Some(second.as_str()));
        let verifier = ok(TokenKeys::from_sets("roster", [private.public()]));
        assert!(!verifier.can_sign(KeyPurpose::Session));
        assert!(verifier.verify(&old_token).is_ok());
        assert!(verifier.verify(&new_token).is_ok());

        // After the longest token lifetime the old key is pruned; its tokens
        // (expired by then anyway) no longer verify, the new ones do.
        let pruned = private.prune(now + 7200, Duration::from_secs(3600));
        assert_eq!(pruned, vec![first]);
        let after = ok(TokenKeys::from_sets("roster", [private]));
        assert_eq!(reason(after.verify(&old_token)), Some("TOKEN_INVALID"));
        assert!(after.verify(&new_token).is_ok());
    }

    #[test]
    fn a_running_process_picks_up_a_rotated_key_file() {
        let dir = std::env::temp_dir().join(format!("roster-keys-{}", uuid::Uuid::new_v4()));
        let settings = AuthSettings {
            private_key_files: vec![dir.join("session.json")],
            ..AuthSettings::default()
        };
        let now = chrono::Utc::now().timestamp();
        let mut set = KeySet::default();
        set.rotate(KeyPurpose::Session, now - 10, now - 10);
        ok(set.save(&settings.private_key_files[0]));
        let keys = ok(TokenKeys::from_settings(&settings, &dir));
        let old = ok(keys.issue_user(1, 0, HOUR)).token;

        let new_kid = set.rotate(KeyPurpose::Session, now, now);
        ok(set.save(&settings.private_key_files[0]));
        ok(keys.reload());
        let new = ok(keys.issue_user(1, 0, HOUR)).token;
        let header = ok(jsonwebtoken::decode_header(&new));
        assert_eq!(header.kid, Some(new_kid));
        assert!(keys.verify(&old).is_ok());

        // A broken file leaves the keys in force.
        ok(std::fs::write(&settings.private_key_files[0], "not json"));
        assert!(keys.reload().is_err());
        assert!(keys.verify(&new).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let keys = TokenKeys::generate("roster-test");
        let stale = expired_a_minute_ago(&keys);
        // As if it had been verified while valid: remembered with its expiry.
        let a_minute_ago = chrono::Utc::now().timestamp() - 60;
        let epoch = keys.verified.epoch();
        let actor = Actor::Admin {
            client: "ops".into(),
        };
        keys.verified
            .insert(stale.clone(), (actor, a_minute_ago), epoch);
        assert_eq!(reason(keys.verify(&stale)), Some("TOKEN_EXPIRED"));
    }

    #[test]
    fn a_remembered_token_of_a_retired_key_is_refused_after_the_reload() {
        let dir = std::env::temp_dir().join(format!("roster-keys-{}", uuid::Uuid::new_v4()));
        let settings = AuthSettings {
            private_key_files: vec![dir.join("session.json")],
            ..AuthSettings::default()
        };
        let long_ago = chrono::Utc::now().timestamp() - 10 * 24 * 3600;
        let mut set = KeySet::default();
        set.rotate(KeyPurpose::Session, long_ago, long_ago);
        ok(set.save(&settings.private_key_files[0]));
        let keys = ok(TokenKeys::from_settings(&settings, &dir));
        let old = ok(keys.issue_user(1, 0, HOUR)).token;
        assert!(keys.verify(&old).is_ok(), "verified, and remembered");

        let now = chrono::Utc::now().timestamp();
        set.rotate(KeyPurpose::Session, now - 3600, now - 3600);
        assert_eq!(set.prune(now, Duration::from_secs(60)).len(), 1);
        ok(set.save(&settings.private_key_files[0]));
        ok(keys.reload());
        assert_eq!(reason(keys.verify(&old)), Some("TOKEN_INVALID"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
