//! Tables of the file service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_files;
mod m20261201_000001_add_file_visibility;
mod m20261224_000003_idempotency;

/// The table of this service's idempotency ledger.
pub use m20261224_000003_idempotency::TABLE as IDEMPOTENCY_TABLE;

pub struct FilesMigrator;

#[async_trait::async_trait]
impl MigratorTrait for FilesMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_files::Migration),
            Box::new(m20261201_000001_add_file_visibility::Migration),
            Box::new(m20261224_000003_idempotency::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_files_migrations".into_iden()
    }
}
