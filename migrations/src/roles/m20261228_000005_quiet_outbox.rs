//! Appends to `role_events` stop notifying from inside their transaction (see
//! `crate::outbox_turn::quiet`): the service announces its commits itself.

use sea_orm_migration::prelude::*;

use super::OUTBOX_LOCK_KEY;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::quiet(manager, "role_events", OUTBOX_LOCK_KEY).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::loud(manager, "role_events", OUTBOX_LOCK_KEY).await
    }
}
