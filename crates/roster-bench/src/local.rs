//! Services wired the way the all-in-one `roster` binary wires them: every
//! service on one server, peers reached over loopback with service tokens.

use std::time::Duration;

use roster_kit::{
    TokenKeys,
    authz::{CheckerSettings, PermissionChecker},
    config::{CommonSettings, Secret},
    server::ServerBuilder,
};
use roster_roles::RolesSettings;
use sea_orm::DatabaseConnection;

/// Lifetime of the service tokens the benchmarks issue.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Adds the role service over `database_url` (its tables live beside the other
/// service's, with their own migration table) and returns its connection.
pub async fn add_roles(
    server: &mut ServerBuilder,
    database_url: &str,
    common: &CommonSettings,
) -> anyhow::Result<DatabaseConnection> {
    let settings = RolesSettings {
        database_url: Some(Secret::new(database_url.to_owned())),
    };
    let db = roster_roles::connect(&settings, common).await?;
    server.add_service(roster_roles::service(db.clone(), common));
    Ok(db)
}

/// A permission checker for `service`, asking the role service at `address`.
pub fn checker(
    keys: &TokenKeys,
    address: &str,
    service: &str,
    settings: CheckerSettings,
) -> anyhow::Result<PermissionChecker> {
    let token = keys.issue_service(service, TOKEN_TTL)?.token;
    Ok(PermissionChecker::new(address, &token, settings)?)
}
