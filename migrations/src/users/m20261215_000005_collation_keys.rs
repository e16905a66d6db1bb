//! Names and display names as people write them: each user's canonical name
//! (unique: two names that differ only in Unicode composition or width cannot
//! both exist) and the collation its sort key was made with.
//!
//! Sort keys become UCA collation keys (accent- and case-insensitive prefix
//! search is a range of them), so the lower-cased search key and its index go.
//! Existing rows get their new keys and canonical names from the user service
//! when it starts (ICU's data lives there, not here): `sort_key_collation` 0
//! marks a key of no known collation, and every such row is re-keyed, in
//! resumable batches.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::bytewise_text;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CanonicalName,
    SortKey,
    SortKeyCollation,
    SearchKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut canonical = ColumnDef::new(Users::CanonicalName);
        canonical.text().null();
        if backend == DbBackend::Postgres {
            canonical.extra("COLLATE \"C\"");
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(&mut canonical)
                    .to_owned(),
            )
            .await?;
        // Null (an old name not yet given its canonical form, or one whose form
        // another user has) never collides.
        manager
            .create_index(
                Index::create()
                    .name("users_canonical_name")
                    .table(Users::Table)
                    .col(Users::CanonicalName)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer(Users::SortKeyCollation).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("users_search_key_sort_key")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::SearchKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // The old search key was the lower-cased display name; the old sort keys
        // come back only by re-keying with the code of that time. Empty keys
        // find nothing until then.
        let mut search_key = bytewise_text(Users::SearchKey, backend);
        search_key.default("");
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(&mut search_key)
                    .to_owned(),
            )
            .await?;
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
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::SortKeyCollation)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("users_canonical_name")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::CanonicalName)
                    .to_owned(),
            )
            .await
    }
}
