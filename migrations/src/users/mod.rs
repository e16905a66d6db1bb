//! Tables of the user service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_users;
mod m20261122_000002_network_roles;
mod m20261201_000003_guest_secrets;
mod m20261201_000004_moderation_state;
mod m20261215_000005_collation_keys;
mod m20261223_000006_event_origin;
mod m20261224_000007_idempotency;

/// The table of this service's idempotency ledger.
pub use m20261224_000007_idempotency::TABLE as IDEMPOTENCY_TABLE;

pub struct UsersMigrator;

#[async_trait::async_trait]
impl MigratorTrait for UsersMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_users::Migration),
            Box::new(m20261122_000002_network_roles::Migration),
            Box::new(m20261201_000003_guest_secrets::Migration),
            Box::new(m20261201_000004_moderation_state::Migration),
            Box::new(m20261215_000005_collation_keys::Migration),
            Box::new(m20261223_000006_event_origin::Migration),
            Box::new(m20261224_000007_idempotency::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_users_migrations".into_iden()
    }
}
