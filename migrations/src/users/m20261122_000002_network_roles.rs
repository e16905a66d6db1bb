//! The user's network-wide roles, projected from the role service's events,
//! and how far that projection has read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    NetworkRoles,
}

#[derive(DeriveIden)]
enum UserRoleSync {
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
                    .add_column(text(Users::NetworkRoles).default("[]"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserRoleSync::Table)
                    .col(small_integer(UserRoleSync::Id).primary_key())
                    .col(big_integer(UserRoleSync::LastSequence))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(UserRoleSync::Table)
                    .columns([UserRoleSync::Id, UserRoleSync::LastSequence])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserRoleSync::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::NetworkRoles)
                    .to_owned(),
            )
            .await
    }
}
