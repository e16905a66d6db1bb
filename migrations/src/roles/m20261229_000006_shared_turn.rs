//! Appends to `role_events` take the outbox's turn shared, and readers settle
//! gaps with its horizon (see `crate::outbox_turn::share`).

use sea_orm_migration::prelude::*;

use super::OUTBOX_LOCK_KEY;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::share(manager, "role_events", OUTBOX_LOCK_KEY).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::unshare(manager, "role_events", OUTBOX_LOCK_KEY).await
    }
}
