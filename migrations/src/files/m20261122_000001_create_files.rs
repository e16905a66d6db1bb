use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Files {
    Table,
    Seq,
    Id,
    OwnerUserId,
    Purpose,
    Name,
    ContentType,
    Size,
    Width,
    Height,
    Sha256,
    Variants,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    // Insertion order: listing pages walk it newest first.
                    .col(big_pk_auto(Files::Seq))
                    .col(string_len_uniq(Files::Id, 36))
                    .col(big_integer(Files::OwnerUserId))
                    .col(string_len(Files::Purpose, 16))
                    .col(text(Files::Name))
                    .col(text(Files::ContentType))
                    .col(big_integer(Files::Size))
                    .col(integer(Files::Width))
                    .col(integer(Files::Height))
                    .col(string_len(Files::Sha256, 64))
                    // JSON array describing the stored variants.
                    .col(text(Files::Variants))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // Listing a user's files (and the deletion cascade) walks this index.
        manager
            .create_index(
                Index::create()
                    .name("files_owner_user_id_seq")
                    .table(Files::Table)
                    .col(Files::OwnerUserId)
                    .col(Files::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Files::Table).to_owned())
            .await
    }
}
