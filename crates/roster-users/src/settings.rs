//! Settings of the user service (the `users` table of the configuration).

use std::path::Path;

use roster_kit::{config::Secret, db};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct UsersSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/users.db`.
    pub database_url: Option<Secret>,
    /// Whether guest logins are allowed (disable in production).
    pub allow_guests: bool,
    /// Native logins need an HMAC auth token made with `login_secret`.
    pub secured_mode: bool,
    /// Key of the secured-mode login HMAC; required when `secured_mode` is on.
    pub login_secret: Option<Secret>,
}

impl Default for UsersSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            allow_guests: true,
            secured_mode: false,
            login_secret: None,
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
}
