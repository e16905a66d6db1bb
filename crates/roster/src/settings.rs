//! The whole configuration: shared settings at the top level, one table per service.

use roster_files::FilesSettings;
use roster_gateway::GatewaySettings;
use roster_kit::config::CommonSettings;
use roster_moderation::ModerationSettings;
use roster_roles::RolesSettings;
use roster_users::UsersSettings;
use serde::Deserialize;

use crate::relay::RelaySettings;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RosterSettings {
    #[serde(flatten)]
    pub common: CommonSettings,
    pub users: UsersSettings,
    pub roles: RolesSettings,
    pub files: FilesSettings,
    pub moderation: ModerationSettings,
    pub gateway: GatewaySettings,
    pub relay: RelaySettings,
}
