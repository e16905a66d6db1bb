//! Settings of the user service (the `users` table of the configuration).

use std::{path::Path, time::Duration};

use roster_kit::{Error, config::Secret, db};
use serde::Deserialize;

use crate::domain::{
    LoginPolicy,
    collation::{Collation, ROOT_LOCALE},
    login::FailureLimits,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct UsersSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/users.db`.
    pub database_url: Option<Secret>,
    /// Whether guest logins are allowed (disable in production).
    pub allow_guests: bool,
    /// Development only: a native Login by user name alone, without a
    /// credential (never for users who hold a role grant). Off by default.
    pub dev_logins: bool,
    /// Key of the HMAC login credentials product backends make for native
    /// logins; without it (and without `dev_logins`) native logins are refused.
    pub login_secret: Option<Secret>,
    /// How far ahead a login credential may expire, in seconds.
    pub login_credential_max_ttl_secs: u64,
    /// Failed logins allowed per name and per client address within a window.
    pub login_limits: LoginLimits,
    /// The BCP 47 locale whose alphabetical order QueryUsers follows ("und":
    /// the Unicode root order). Changing it re-keys every user at the next start.
    pub collation_locale: String,
    /// Users each replica keeps in memory (and as many names; at least 1),
    /// least recently read first out. Reads of users beyond it go to the
    /// database.
    pub cached_users: usize,
}

/// `users.login_limits`: failed logins (refused credentials or guest secrets)
/// allowed before further logins are refused for a while; 0 turns a limit off.
/// Counted in memory by each replica.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LoginLimits {
    pub failures_per_name: u32,
    pub failures_per_address: u32,
    pub window_secs: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_per_name: 5,
            failures_per_address: 20,
            window_secs: 300,
        }
    }
}

impl Default for UsersSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            allow_guests: true,
            dev_logins: false,
            login_secret: None,
            login_credential_max_ttl_secs: 600,
            login_limits: LoginLimits::default(),
            collation_locale: ROOT_LOCALE.to_owned(),
            cached_users: 100_000,
        }
    }
}

impl UsersSettings {
    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_else(|| db::default_sqlite_url(data_dir, "users"))
    }

    /// The collation of `collation_locale`.
    pub fn collation(&self) -> Result<Collation, Error> {
        Collation::new(&self.collation_locale)
            .map_err(|problem| Error::invalid_field("users.collation_locale", problem))
    }

    /// How logins work under these settings.
    pub fn login_policy(&self) -> Result<LoginPolicy, Error> {
        if self.login_credential_max_ttl_secs == 0 {
            return Err(Error::invalid_field(
                "users.login_credential_max_ttl_secs",
                "must be at least 1 second",
            ));
        }
        if self.login_limits.window_secs == 0 {
            return Err(Error::invalid_field(
                "users.login_limits.window_secs",
                "must be at least 1 second",
            ));
        }
        let login_secret = self
            .login_secret
            .clone()
            .filter(|secret| !secret.expose().is_empty());
        Ok(LoginPolicy {
            allow_guests: self.allow_guests,
            dev_logins: self.dev_logins,
            login_secret,
            credential_max_ttl: Duration::from_secs(self.login_credential_max_ttl_secs),
            failure_limits: FailureLimits {
                per_name: self.login_limits.failures_per_name,
                per_address: self.login_limits.failures_per_address,
                window: Duration::from_secs(self.login_limits.window_secs),
            },
        })
    }
}
