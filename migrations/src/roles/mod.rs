//! Tables of the role service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_roles;
mod m20261223_000002_event_origin;
mod m20261224_000003_idempotency;
mod m20261227_000004_outbox_turn;
mod m20261228_000005_quiet_outbox;
mod m20261229_000006_shared_turn;

/// The table of this service's idempotency ledger.
pub use m20261224_000003_idempotency::TABLE as IDEMPOTENCY_TABLE;

/// The advisory lock ordering appends to this service's outbox (see
/// `outbox_turn` in this crate); its notifications go to `roster_outbox_<key in hex>`.
pub use m20261227_000004_outbox_turn::OUTBOX_LOCK_KEY;

pub struct RolesMigrator;

#[async_trait::async_trait]
impl MigratorTrait for RolesMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_roles::Migration),
            Box::new(m20261223_000002_event_origin::Migration),
            Box::new(m20261224_000003_idempotency::Migration),
            Box::new(m20261227_000004_outbox_turn::Migration),
            Box::new(m20261228_000005_quiet_outbox::Migration),
            Box::new(m20261229_000006_shared_turn::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_roles_migrations".into_iden()
    }
}
