//! The origin of each event (who made the change, the request and trace it
//! came with, the reason given), kept with the event in every service's outbox.
//! Nullable: events written before have none. One column per statement, as
//! SQLite alters one at a time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden, Clone, Copy)]
enum Origin {
    Actor,
    RequestId,
    TraceId,
    Reason,
}

const COLUMNS: [Origin; 4] = [
    Origin::Actor,
    Origin::RequestId,
    Origin::TraceId,
    Origin::Reason,
];

pub(crate) async fn add(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    for column in COLUMNS {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(text_null(column))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

pub(crate) async fn drop(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    for column in COLUMNS {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
