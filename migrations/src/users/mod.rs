//! Tables of the user service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_users;
mod m20261122_000002_network_roles;

pub struct UsersMigrator;

#[async_trait::async_trait]
impl MigratorTrait for UsersMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_users::Migration),
            Box::new(m20261122_000002_network_roles::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_users_migrations".into_iden()
    }
}
