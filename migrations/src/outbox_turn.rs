//! Outbox appends on PostgreSQL take their turn inside the INSERT itself: a
//! statement trigger on the outbox table takes the outbox's transaction-scoped
//! advisory lock before any row (and so any sequence number) is made, makes the
//! transaction commit asynchronously, and notifies the outbox's channel.
//!
//! Why in the database: sequence numbers must become visible in commit order,
//! so appends to one outbox are serialised from the moment a number is drawn
//! until the commit. Taken by a separate statement, the lock would be held for
//! one more round trip to the service (and the next appender would wait for
//! it); taken here, a waiting append goes on the moment the previous one
//! commits, without leaving the database. The asynchronous commit keeps the
//! disk flush out of that window; the services make the change durable after
//! the commit, before answering (`roster_kit::durability`).
//!
//! The trigger no longer notifies the outbox's channel (`roster_outbox_<key
//! in hex>`, what `roster_kit::wake` listens on) since [`quiet`]: PostgreSQL
//! serialises the commits of every transaction that notified, database-wide,
//! so a notification per append made every commit wait for the one before it.
//! The services announce their commits themselves, one notification for many
//! (`roster_kit::durability`). SQLite has one writer at a time already:
//! nothing to install.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// Installs the trigger on `table`, serialising its appends with the advisory
/// lock `key`.
pub(crate) async fn install(
    manager: &SchemaManager<'_>,
    table: &str,
    key: i64,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    append_turn(manager, table, key, true).await?;
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE TRIGGER {table}_append_turn BEFORE INSERT ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_turn()"
        ))
        .await?;
    Ok(())
}

/// (Re)defines the trigger's function: the asynchronous commit, the lock
/// `key` and, when `notifying`, a notification on the outbox's channel.
async fn append_turn(
    manager: &SchemaManager<'_>,
    table: &str,
    key: i64,
    notifying: bool,
) -> Result<(), DbErr> {
    let notify = if notifying {
        format!("PERFORM pg_notify('roster_outbox_{key:x}', '');")
    } else {
        String::new()
    };
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION {table}_append_turn() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               PERFORM set_config('synchronous_commit', 'off', true); \
               {notify} \
               PERFORM pg_advisory_xact_lock({key}); \
               RETURN NULL; \
             END $$"
        ))
        .await?;
    Ok(())
}

/// Stops the trigger of an outbox [`install`]ed already from notifying on
/// every append; [`loud`] undoes it.
pub(crate) async fn quiet(manager: &SchemaManager<'_>, table: &str, key: i64) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    append_turn(manager, table, key, false).await
}

/// Undoes [`quiet`].
pub(crate) async fn loud(manager: &SchemaManager<'_>, table: &str, key: i64) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    append_turn(manager, table, key, true).await
}

/// Removes what [`install`] made.
pub(crate) async fn remove(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let connection = manager.get_connection();
    connection
        .execute_unprepared(&format!(
            "DROP TRIGGER IF EXISTS {table}_append_turn ON {table}"
        ))
        .await?;
    connection
        .execute_unprepared(&format!("DROP FUNCTION IF EXISTS {table}_append_turn()"))
        .await?;
    Ok(())
}
