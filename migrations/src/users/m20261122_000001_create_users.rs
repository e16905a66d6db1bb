use sea_orm_migration::{prelude::*, schema::*};

use crate::bytewise_text;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    UserType,
    DisplayName,
    SortKey,
    SearchKey,
    Description,
    AvatarFileId,
    AvatarUrl,
    AvatarName,
    AvatarContentType,
    AvatarSize,
    IsGuest,
    PresenceStatus,
    Online,
    CallStatus,
    Properties,
    CreatedAt,
    UpdatedAt,
    Version,
    IsGlobalBanned,
    FlagCount,
    IsDeleted,
    TokenGeneration,
}

#[derive(DeriveIden)]
enum UserEvents {
    Table,
    Seq,
    UserId,
    Kind,
    Payload,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Name, 50))
                    .col(string_len(Users::UserType, 16))
                    .col(string_len(Users::DisplayName, 100))
                    .col(bytewise_text(Users::SortKey, backend))
                    .col(bytewise_text(Users::SearchKey, backend))
                    .col(text(Users::Description))
                    .col(text_null(Users::AvatarFileId))
                    .col(text_null(Users::AvatarUrl))
                    .col(text_null(Users::AvatarName))
                    .col(text_null(Users::AvatarContentType))
                    .col(big_integer_null(Users::AvatarSize))
                    .col(boolean(Users::IsGuest))
                    .col(string_len(Users::PresenceStatus, 32))
                    .col(boolean(Users::Online))
                    .col(string_len(Users::CallStatus, 16))
                    .col(text(Users::Properties))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(big_integer(Users::Version))
                    .col(boolean(Users::IsGlobalBanned))
                    .col(big_integer(Users::FlagCount))
                    .col(boolean(Users::IsDeleted))
                    .col(big_integer(Users::TokenGeneration))
                    .to_owned(),
            )
            .await?;
        // Listing in aA–zZ order walks this index; ties break on id.
        manager
            .create_index(
                Index::create()
                    .name("users_sort_key_id")
                    .table(Users::Table)
                    .col(Users::SortKey)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;
        // Keyword prefix search is a range scan on this index.
        manager
            .create_index(
                Index::create()
                    .name("users_search_key_sort_key")
                    .table(Users::Table)
                    .col(Users::SearchKey)
                    .col(Users::SortKey)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserEvents::Table)
                    .col(big_pk_auto(UserEvents::Seq))
                    .col(big_integer(UserEvents::UserId))
                    .col(small_integer(UserEvents::Kind))
                    .col(text(UserEvents::Payload))
                    .col(timestamp_with_time_zone(UserEvents::OccurredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
