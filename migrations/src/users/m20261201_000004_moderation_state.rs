//! The moderation state the user service projects from the moderation
//! service's events: when a global ban ends, and how far the projection has read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    BanExpiresAtMs,
}

#[derive(DeriveIden)]
enum UserModerationSync {
    Table,
    Id,
    LastSequence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer_null(Users::BanExpiresAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserModerationSync::Table)
                    .col(small_integer(UserModerationSync::Id).primary_key())
                    .col(big_integer(UserModerationSync::LastSequence))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(UserModerationSync::Table)
                    .columns([UserModerationSync::Id, UserModerationSync::LastSequence])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserModerationSync::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::BanExpiresAtMs)
                    .to_owned(),
            )
            .await
    }
}
