//! Settings of the role service (the `roles` table of the configuration).

use roster_kit::config::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RolesSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/roles.db`.
    pub database_url: Option<Secret>,
}
