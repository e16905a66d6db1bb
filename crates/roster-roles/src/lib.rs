//! Roster role & permission service (`roster.v1.RoleService`): the permission
//! catalogue, built-in and custom roles, grants of a role to a user in a scope
//! (network, channel, community), permission checks, and the role event stream.
//!
//! Layers: [`grpc`] (tonic handlers), [`domain`] (catalogue, default matrix,
//! rules), [`store`] (sea-orm tables). The `roster` binary and the tests start the
//! service the same way:
//!
//! ```ignore
//! let db = roster_roles::connect(&settings, &common).await?;       // migrates when auto_migrate
//! let service = roster_roles::service(db, &common);
//! roster_roles::serve(listener, shutdown, service, keys, &common).await?;
//! ```
//! or `build` for the first two steps, and `bootstrap_global_admin` to make the
//! first administrator.

pub mod domain;
pub mod grpc;
mod settings;
pub mod store;

use std::{future::Future, sync::Arc, time::Duration};

use roster_kit::{Result, TokenKeys, config::CommonSettings, server::ServerBuilder};
use roster_migrations::RolesMigrator;
use roster_proto::v1::role_service_server::RoleServiceServer;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

pub use domain::{
    Clock, Roles, SystemClock,
    catalogue::{CATALOGUE, names as permissions},
    matrix::{BuiltInRole, MATRIX},
};
pub use grpc::RoleApi;
pub use settings::RolesSettings;

/// The tonic service to add to a `ServerBuilder`.
pub type RoleServer = RoleServiceServer<RoleApi>;

/// Connects to the role database (`roles.database_url`, or `<data_dir>/roles.db`)
/// and applies pending migrations when `common.auto_migrate` is set.
pub async fn connect(
    settings: &RolesSettings,
    common: &CommonSettings,
) -> Result<DatabaseConnection> {
    let db = roster_kit::db::connect(&settings.database_url(&common.data_dir)).await?;
    if common.auto_migrate {
        migrate(&db).await?;
    }
    Ok(db)
}

/// Applies the role service's pending migrations (`roster migrate`).
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    roster_kit::db::migrate::<RolesMigrator>(db).await
}

/// The service over an open (migrated) database, on the wall clock.
pub fn service(db: DatabaseConnection, common: &CommonSettings) -> RoleServer {
    service_with_clock(db, common, Arc::new(SystemClock))
}

/// The service with an injected clock (tests make grant expiry checkable without
/// waiting). Call inside a Tokio runtime: it starts the cache's change follower.
pub fn service_with_clock(
    db: DatabaseConnection,
    common: &CommonSettings,
    clock: Arc<dyn Clock>,
) -> RoleServer {
    let roles = Roles::new(store::Store::new(db), clock);
    let poll_interval = Duration::from_millis(common.event_poll_interval_ms.max(1));
    roles.follow_remote_changes(poll_interval);
    RoleServiceServer::new(RoleApi::new(roles, poll_interval))
}

/// [`connect`] then [`service`].
pub async fn build(settings: &RolesSettings, common: &CommonSettings) -> Result<RoleServer> {
    let db = connect(settings, common).await?;
    Ok(service(db, common))
}

/// Serves the role service alone on `listener` until `shutdown` resolves. To run
/// it next to other services, add the [`RoleServer`] to one `ServerBuilder` instead.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    service: RoleServer,
    keys: Arc<TokenKeys>,
    common: &CommonSettings,
) -> Result<()> {
    let mut builder = ServerBuilder::new(keys, Duration::from_millis(common.request_timeout_ms));
    builder.add_service(service);
    builder.serve(listener, shutdown).await
}

/// Grants `global-admin` network-wide to `user_id` (which the API refuses): how the
/// operator makes the first administrator, e.g. `roster roles bootstrap-admin <id>`.
/// Idempotent; emits a ROLE_GRANTED event. Returns whether the grant was new.
pub async fn bootstrap_global_admin(db: &DatabaseConnection, user_id: i64) -> Result<bool> {
    let store = store::Store::new(db.clone());
    Ok(domain::bootstrap_global_admin(&store, user_id)
        .await?
        .created)
}
