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
//!
//! Where [`share`]d (the users' and roles' outboxes), appends take the turn
//! shared: they no longer wait for each other, so sequence numbers may
//! commit out of order, and a reader that finds a gap among the events it
//! read asks the outbox's horizon (`<table>_horizon()`): it takes the turn
//! exclusively, which waits for every append in flight to commit or roll
//! back, and answers the newest sequence number then, below which every gap
//! is final (`roster_kit::outbox`). A transaction that must exclude every
//! other append (e.g. one whose event carries a count) still takes the turn
//! exclusively from its first statement (`roster_kit::db::lock_outbox`).

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
    append_turn(manager, table, key, Turn::Exclusive { notifying: true }).await?;
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE TRIGGER {table}_append_turn BEFORE INSERT ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_turn()"
        ))
        .await?;
    Ok(())
}

/// How an append takes the outbox's turn.
#[derive(Clone, Copy)]
enum Turn {
    /// One append at a time, notifying the outbox's channel or not.
    Exclusive { notifying: bool },
    /// Appends side by side; readers settle gaps with the horizon.
    Shared,
}

/// (Re)defines the trigger's function: the asynchronous commit and the lock
/// `key`, taken as `turn` says.
async fn append_turn(
    manager: &SchemaManager<'_>,
    table: &str,
    key: i64,
    turn: Turn,
) -> Result<(), DbErr> {
    let (notify, lock) = match turn {
        Turn::Exclusive { notifying: true } => (
            format!("PERFORM pg_notify('roster_outbox_{key:x}', '');"),
            "pg_advisory_xact_lock",
        ),
        Turn::Exclusive { notifying: false } => (String::new(), "pg_advisory_xact_lock"),
        Turn::Shared => (String::new(), "pg_advisory_xact_lock_shared"),
    };
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION {table}_append_turn() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
               PERFORM set_config('synchronous_commit', 'off', true); \
               {notify} \
               PERFORM {lock}({key}); \
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
    append_turn(manager, table, key, Turn::Exclusive { notifying: false }).await
}

/// Undoes [`quiet`].
pub(crate) async fn loud(manager: &SchemaManager<'_>, table: &str, key: i64) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    append_turn(manager, table, key, Turn::Exclusive { notifying: true }).await
}

/// Lets the appends of an outbox [`quiet`]ed already take its turn shared,
/// and installs its horizon, `<table>_horizon()`: called in a transaction of
/// its own, it waits for the appends in flight and answers the newest
/// sequence number committed (0: none). [`unshare`] undoes it.
pub(crate) async fn share(manager: &SchemaManager<'_>, table: &str, key: i64) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    append_turn(manager, table, key, Turn::Shared).await?;
    // A volatile PL/pgSQL function reads with a snapshot taken after the
    // lock is granted, so it sees every append that held the turn before.
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION {table}_horizon() RETURNS bigint \
             LANGUAGE plpgsql VOLATILE AS $$ \
             DECLARE newest bigint; \
             BEGIN \
               PERFORM pg_advisory_xact_lock({key}); \
               SELECT coalesce(max(seq), 0) INTO newest FROM {table}; \
               RETURN newest; \
             END $$"
        ))
        .await?;
    Ok(())
}

/// Undoes [`share`].
pub(crate) async fn unshare(
    manager: &SchemaManager<'_>,
    table: &str,
    key: i64,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!("DROP FUNCTION IF EXISTS {table}_horizon()"))
        .await?;
    quiet(manager, table, key).await
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
