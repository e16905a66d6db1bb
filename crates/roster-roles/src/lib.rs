//! Roster role & permission service (`roster.v1.RoleService`): the permission
//! catalogue, built-in and custom roles, grants of a role to a user in a scope
//! (network, channel, community), permission checks, and the role event stream.
//!
//! Rooms (see the README's Layout): [`grpc`] (transport) and [`store`]
//! (sea-orm) depend on [`domain`] (the rules, and the ports the store
//! implements); this file joins them. The service calls no other service, so
//! it has no peers. The `roster` binary, the tests and the benchmarks start it
//! as every service: [`RoleService::start`] from a `ServiceContext`, then
//! `register` on a server.

pub mod domain;
pub mod grpc;
mod settings;
pub mod store;

use std::sync::Arc;

use roster_kit::{
    Result,
    config::CommonSettings,
    server::ServerBuilder,
    service::{RosterService, ServiceContext},
};
use roster_migrations::RolesMigrator;
use roster_proto::v1::role_service_server::RoleServiceServer;
use sea_orm::DatabaseConnection;

pub use domain::{
    Clock, Roles, SystemClock,
    catalogue::{CATALOGUE, names as permissions},
    matrix::{BuiltInRole, MATRIX},
};
pub use grpc::RoleApi;
pub use settings::RolesSettings;
pub use store::Store;

/// Calls Roster's other services make (with service tokens).
pub const SERVICE_METHODS: &[&str] = &[
    "/roster.v1.RoleService/CheckPermission",
    "/roster.v1.RoleService/BatchCheckPermissions",
    "/roster.v1.RoleService/WatchRoleEvents",
    "/roster.v1.RoleService/ListUserRoles",
    "/roster.v1.RoleService/RevokeUserGrants",
];

/// The running role service.
pub struct RoleService {
    server: RoleServiceServer<RoleApi>,
}

impl RosterService for RoleService {
    const NAME: &'static str = "roles";
    type Settings = RolesSettings;

    async fn start(ctx: &ServiceContext, settings: &RolesSettings) -> Result<Self> {
        Self::start_with_clock(ctx, settings, Arc::new(SystemClock)).await
    }

    fn register(&self, server: &mut ServerBuilder) {
        server.add_service(self.server.clone());
        for method in SERVICE_METHODS {
            server.service_method(method);
        }
    }
}

impl RoleService {
    /// [`RoleService::start`] on an injected clock (tests make grant expiry
    /// checkable without waiting).
    pub async fn start_with_clock(
        ctx: &ServiceContext,
        settings: &RolesSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let db = ctx
            .database::<RolesMigrator>(Self::NAME, &settings.database_url(&ctx.common.data_dir))
            .await?;
        let poll_interval = ctx.poll_interval();
        let idempotency =
            ctx.idempotency_ledger(db.clone(), roster_migrations::roles::IDEMPOTENCY_TABLE);
        let store = Arc::new(Store::new(db));
        ctx.keep(roster_kit::events::prune_outbox(
            Self::NAME,
            store.clone(),
            &ctx.common.outbox,
        ));
        let roles = Roles::new(store.clone(), clock, poll_interval);
        ctx.keep(store.wake_on_remote_commits(roles.changes().clone()));
        Ok(Self {
            server: RoleServiceServer::new(RoleApi::new(
                Arc::new(roles),
                poll_interval,
                idempotency,
            )),
        })
    }
}

/// Connects to the role database (`roles.database_url`, or `<data_dir>/roles.db`)
/// and applies pending migrations when `common.auto_migrate` is set: for
/// commands that work on the tables without serving (`roster grant-global-admin`).
pub async fn connect(
    settings: &RolesSettings,
    common: &CommonSettings,
) -> Result<DatabaseConnection> {
    let db = roster_kit::db::connect(&settings.database_url(&common.data_dir)).await?;
    if common.auto_migrate {
        roster_kit::db::migrate::<RolesMigrator>(&db).await?;
    }
    Ok(db)
}

/// Grants `global-admin` network-wide to `user_id` (which the API refuses): how the
/// operator makes the first administrator (`roster grant-global-admin <id>`).
/// Idempotent; emits a ROLE_GRANTED event. Returns whether the grant was new.
pub async fn bootstrap_global_admin(db: &DatabaseConnection, user_id: i64) -> Result<bool> {
    let store = Store::new(db.clone());
    Ok(domain::grants::bootstrap_global_admin(&store, user_id)
        .await?
        .created)
}
