//! Appends to `user_events` take the outbox's turn inside their INSERT (see
//! `crate::outbox_turn`).

use sea_orm_migration::prelude::*;

/// The advisory lock key ordering appends to `user_events`.
pub const OUTBOX_LOCK_KEY: i64 = 0x726f_7374_6572_0001;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::install(manager, "user_events", OUTBOX_LOCK_KEY).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::outbox_turn::remove(manager, "user_events").await
    }
}
