//! Private files: every file gets a visibility. Files stored before it keep
//! what anyone could already do with avatars (they stay public: display
//! pictures load anywhere) and close what nobody should have had for
//! attachments (they become private).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Files {
    Table,
    Seq,
    OwnerUserId,
    Purpose,
    Visibility,
}

const INDEX: &str = "files_owner_user_id_visibility_seq";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Private by default: a row written without a visibility is not exposed.
        manager
            .alter_table(
                Table::alter()
                    .table(Files::Table)
                    .add_column(string_len(Files::Visibility, 16).default("private"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Files::Table)
                    .value(Files::Visibility, "public")
                    .and_where(Expr::col(Files::Purpose).eq("avatar"))
                    .to_owned(),
            )
            .await?;
        // Listing another user's files shows only the public ones: this index
        // walks them without reading that user's private rows.
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Files::Table)
                    .col(Files::OwnerUserId)
                    .col(Files::Visibility)
                    .col(Files::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Files::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Files::Table)
                    .drop_column(Files::Visibility)
                    .to_owned(),
            )
            .await
    }
}
