//! Who made each change and why, with its event (`EventMeta.actor`,
//! `request_id`, `trace_id`, `reason`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::event_origin::add(manager, "role_events").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::event_origin::drop(manager, "role_events").await
    }
}
