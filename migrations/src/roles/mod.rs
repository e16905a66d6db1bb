//! Tables of the role service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_roles;
mod m20261223_000002_event_origin;

pub struct RolesMigrator;

#[async_trait::async_trait]
impl MigratorTrait for RolesMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_roles::Migration),
            Box::new(m20261223_000002_event_origin::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_roles_migrations".into_iden()
    }
}
