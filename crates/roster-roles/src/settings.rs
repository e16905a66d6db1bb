//! Settings of the role service (the `roles` table of the configuration).

use std::path::Path;

use roster_kit::{config::Secret, db};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RolesSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/roles.db`.
    pub database_url: Option<Secret>,
}

impl RolesSettings {
    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_else(|| db::default_sqlite_url(data_dir, "roles"))
    }
}
