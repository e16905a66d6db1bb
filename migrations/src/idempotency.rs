//! The idempotency ledger of a service (see `roster_kit::idempotency`): one row
//! per caller and `idempotency-key`, holding what the first call asked
//! (method and a fingerprint of its request), whether its change committed,
//! and its answer.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden)]
enum Ledger {
    Caller,
    IdemKey,
    Method,
    Fingerprint,
    ClaimedAt,
    Applied,
    Answer,
    ErrorCode,
    ErrorMessage,
    ErrorDetails,
}

pub(crate) async fn create(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Alias::new(table))
                .col(text(Ledger::Caller))
                .col(text(Ledger::IdemKey))
                .col(text(Ledger::Method))
                .col(binary(Ledger::Fingerprint))
                .col(big_integer(Ledger::ClaimedAt))
                .col(boolean(Ledger::Applied).default(false))
                .col(binary_null(Ledger::Answer))
                .col(integer_null(Ledger::ErrorCode))
                .col(text_null(Ledger::ErrorMessage))
                .col(binary_null(Ledger::ErrorDetails))
                .primary_key(Index::create().col(Ledger::Caller).col(Ledger::IdemKey))
                .to_owned(),
        )
        .await?;
    // Pruning walks the oldest claims.
    manager
        .create_index(
            Index::create()
                .name(format!("{table}_claimed_at"))
                .table(Alias::new(table))
                .col(Ledger::ClaimedAt)
                .to_owned(),
        )
        .await
}

pub(crate) async fn drop(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(Alias::new(table)).to_owned())
        .await
}
