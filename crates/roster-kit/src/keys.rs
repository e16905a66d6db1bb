//! Token signing keys: Ed25519 key pairs, each with a key id (`kid`) and a
//! purpose, kept as JSON Web Key sets.
//!
//! * **session** keys sign user and admin tokens; only the processes that mint
//!   them (the user service, the operator's `roster token admin`) hold them;
//! * **service** keys sign the short-lived tokens Roster's services call each
//!   other with, and file download links; every service process holds them.
//!
//! Every process verifies with the public halves of both. A token must be signed
//! by a key of its own purpose, so a user or admin token can never pass as a
//! service, nor a service key mint a user session.
//!
//! Rotation: a new key is added with an activation time (`activates_at`); until
//! then it only verifies, so every process can learn it before the first token it
//! signs arrives. From its activation on, the newest active key of a purpose signs.
//! A superseded key keeps verifying until the longest token lifetime has passed
//! since it stopped signing; then [`KeySet::prune`] removes it.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPurpose {
    /// User and admin tokens.
    Session,
    /// Service-to-service tokens and file download links.
    Service,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Session => "session",
            KeyPurpose::Service => "service",
        }
    }
}

impl std::str::FromStr for KeyPurpose {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        match value {
            "session" => Ok(KeyPurpose::Session),
            "service" => Ok(KeyPurpose::Service),
            other => Err(Error::invalid_field(
                "purpose",
                format!("{other:?} is not session or service"),
            )),
        }
    }
}

/// One key as a JSON Web Key (RFC 8037 OKP/Ed25519), with Roster's own members
/// `purpose`, `created_at` and `activates_at` (Unix seconds).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
    /// The private key (seed), base64url; absent in public sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    pub purpose: KeyPurpose,
    pub created_at: i64,
    pub activates_at: i64,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("activates_at", &self.activates_at)
            .field("private", &self.d.is_some())
            .finish()
    }
}

impl Jwk {
    /// A fresh key pair of `purpose`, signing from `activates_at` (Unix seconds).
    pub fn generate(purpose: KeyPurpose, now: i64, activates_at: i64) -> Self {
        let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let kid = format!(
            "{}-{}-{}",
            purpose.as_str(),
            now,
            hex::encode(rand::random::<[u8; 4]>())
        );
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            alg: "EdDSA".into(),
            use_: "sig".into(),
            kid,
            x,
            d: Some(URL_SAFE_NO_PAD.encode(signing.to_bytes())),
            purpose,
            created_at: now,
            activates_at,
        }
    }

    /// The same key without its private half.
    pub fn public(&self) -> Self {
        Self {
            d: None,
            ..self.clone()
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        let invalid = |what: &str| {
            Error::internal(format!(
                "key {:?} is not a valid Ed25519 JWK: {what}",
                self.kid
            ))
        };
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(invalid("kty must be OKP and crv Ed25519"));
        }
        if self.kid.is_empty() {
            return Err(invalid("kid is empty"));
        }
        let public = URL_SAFE_NO_PAD
            .decode(&self.x)
            .ok()
            .filter(|x| x.len() == 32)
            .ok_or_else(|| invalid("x is not a 32-byte base64url key"))?;
        if let Some(seed) = self.seed()? {
            let derived = SigningKey::from_bytes(&seed).verifying_key();
            if derived.as_bytes().as_slice() != public.as_slice() {
                return Err(invalid("d does not belong to x"));
            }
        }
        Ok(())
    }

    fn seed(&self) -> Result<Option<[u8; 32]>, Error> {
        let Some(d) = &self.d else {
            return Ok(None);
        };
        let bytes = URL_SAFE_NO_PAD.decode(d).map_err(Error::internal)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::internal(format!("private key {:?} is not 32 bytes", self.kid)))?;
        Ok(Some(seed))
    }

    /// The private key as PKCS#8 DER, as JWT libraries take it (`None` for a
    /// public key). Tools and tests sign with it directly.
    pub fn private_der(&self) -> Result<Option<Vec<u8>>, Error> {
        self.seed()?
            .map(|seed| {
                SigningKey::from_bytes(&seed)
                    .to_pkcs8_der()
                    .map(|der| der.as_bytes().to_vec())
                    .map_err(Error::internal)
            })
            .transpose()
    }
}

/// A JSON Web Key Set, as kept in key files and served to products.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
}

impl KeySet {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::internal(format!("reading key file {}: {err}", path.display()))
        })?;
        let set: KeySet = serde_json::from_str(&text).map_err(|err| {
            Error::internal(format!(
                "key file {} is not a key set: {err}",
                path.display()
            ))
        })?;
        for key in &set.keys {
            key.check()?;
        }
        Ok(set)
    }

    /// Writes the set; a set holding private keys is readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).map_err(Error::internal)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(Error::internal)?;
        }
        // Written beside the file and renamed over it, so a reader never sees half a set.
        let temporary = path.with_extension("tmp");
        write_private_file(&temporary, &text).map_err(Error::internal)?;
        std::fs::rename(&temporary, path).map_err(Error::internal)
    }

    /// The public halves only.
    pub fn public(&self) -> Self {
        Self {
            keys: self.keys.iter().map(Jwk::public).collect(),
        }
    }

    /// Only the keys of `purpose`.
    pub fn of(&self, purpose: KeyPurpose) -> Self {
        Self {
            keys: self
                .keys
                .iter()
                .filter(|k| k.purpose == purpose)
                .cloned()
                .collect(),
        }
    }

    /// Adds a new key of `purpose` that starts signing at `activates_at`; returns its kid.
    pub fn rotate(&mut self, purpose: KeyPurpose, now: i64, activates_at: i64) -> String {
        let key = Jwk::generate(purpose, now, activates_at.max(now));
        let kid = key.kid.clone();
        self.keys.push(key);
        kid
    }

    /// Removes the keys of every purpose that stopped signing more than
    /// `longest_token_lifetime` ago (a newer key of the same purpose has been
    /// active since then); returns their kids.
    pub fn prune(&mut self, now: i64, longest_token_lifetime: Duration) -> Vec<String> {
        let lifetime = i64::try_from(longest_token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let superseded_at = |key: &Jwk| {
            self.keys
                .iter()
                .filter(|k| k.purpose == key.purpose && k.activates_at <= now)
                .filter(|k| (k.activates_at, &k.kid) > (key.activates_at, &key.kid))
                .map(|k| k.activates_at)
                .min()
        };
        let expired: Vec<String> = self
            .keys
            .iter()
            .filter(|key| superseded_at(key).is_some_and(|at| at.saturating_add(lifetime) < now))
            .map(|key| key.kid.clone())
            .collect();
        self.keys.retain(|key| !expired.contains(&key.kid));
        expired
    }
}

/// Where the embedded mode keeps its generated keys.
pub fn embedded_key_file(data_dir: &Path, purpose: KeyPurpose) -> PathBuf {
    data_dir
        .join("keys")
        .join(format!("{}.jwks.json", purpose.as_str()))
}

/// Loads the key file of `purpose` under `data_dir`, creating it with one key
/// on first use so the embedded mode needs no setup.
pub fn embedded_keys(data_dir: &Path, purpose: KeyPurpose) -> Result<KeySet, Error> {
    let path = embedded_key_file(data_dir, purpose);
    if path.exists() {
        return KeySet::load(&path);
    }
    let now = chrono::Utc::now().timestamp();
    let mut set = KeySet::default();
    set.rotate(purpose, now, now);
    set.save(&path)?;
    Ok(set)
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_check_and_lose_their_private_half_when_published() {
        let key = Jwk::generate(KeyPurpose::Session, 100, 100);
        assert!(key.check().is_ok());
        assert!(key.private_der().ok().flatten().is_some());
        let public = key.public();
        assert!(public.d.is_none());
        assert!(public.check().is_ok());
        let json = serde_json::to_string(&public).unwrap_or_default();
        assert!(!json.contains("\"d\""), "{json}");
    }

    #[test]
    fn a_private_key_that_does_not_match_its_public_key_is_refused() {
        let mut key = Jwk::generate(KeyPurpose::Service, 1, 1);
        key.x = Jwk::generate(KeyPurpose::Service, 1, 1).x;
        assert!(key.check().is_err());
    }

    #[test]
    fn prune_keeps_keys_until_the_longest_token_lifetime_after_their_successor_activated() {
        let lifetime = Duration::from_secs(1000);
        let mut set = KeySet::default();
        let old = set.rotate(KeyPurpose::Session, 0, 0);
        let service = set.rotate(KeyPurpose::Service, 0, 0);
        let new = set.rotate(KeyPurpose::Session, 50, 100);
        // The successor is not active yet: nothing is superseded.
        assert!(set.prune(99, lifetime).is_empty());
        // Active since 100: the old key verifies until 1100.
        assert!(set.prune(1100, lifetime).is_empty());
        assert_eq!(set.prune(1101, lifetime), vec![old]);
        let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, [service.as_str(), new.as_str()]);
    }
}
