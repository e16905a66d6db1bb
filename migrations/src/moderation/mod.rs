//! Tables of the moderation service.

use sea_orm_migration::prelude::*;

mod m20261201_000001_create_moderation;
mod m20261223_000002_event_origin;
mod m20261224_000003_idempotency;

/// The table of this service's idempotency ledger.
pub use m20261224_000003_idempotency::TABLE as IDEMPOTENCY_TABLE;

pub struct ModerationMigrator;

#[async_trait::async_trait]
impl MigratorTrait for ModerationMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_000001_create_moderation::Migration),
            Box::new(m20261223_000002_event_origin::Migration),
            Box::new(m20261224_000003_idempotency::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_moderation_migrations".into_iden()
    }
}
