//! Safe retries: the ledger of `idempotency-key`s this service answered.

use sea_orm_migration::prelude::*;

pub const TABLE: &str = "file_idempotency_keys";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::idempotency::create(manager, TABLE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::idempotency::drop(manager, TABLE).await
    }
}
