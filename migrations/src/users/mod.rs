//! Tables of the user service.

use sea_orm_migration::prelude::*;

mod m20261122_000001_create_users;
mod m20261122_000002_network_roles;
mod m20261201_000003_guest_secrets;
mod m20261201_000004_moderation_state;
mod m20261215_000005_collation_keys;
mod m20261223_000006_event_origin;
mod m20261224_000007_idempotency;
mod m20261227_000008_outbox_turn;
mod m20261228_000009_quiet_outbox;
mod m20261229_000010_shared_turn;

/// The table of this service's idempotency ledger.
pub use m20261224_000007_idempotency::TABLE as IDEMPOTENCY_TABLE;

/// The advisory lock ordering appends to this service's outbox (see
/// `outbox_turn` in this crate); its notifications go to `roster_outbox_<key in hex>`.
pub use m20261227_000008_outbox_turn::OUTBOX_LOCK_KEY;

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
            Box::new(m20261227_000008_outbox_turn::Migration),
            Box::new(m20261228_000009_quiet_outbox::Migration),
            Box::new(m20261229_000010_shared_turn::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "roster_users_migrations".into_iden()
    }
}
