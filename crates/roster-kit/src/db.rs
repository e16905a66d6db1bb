//! Database connections (SQLite and PostgreSQL through sea-orm), migrations,
//! write transactions, and pruning of event logs.

use std::{path::Path, sync::Arc, time::Duration};

use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, RuntimeErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sea_query::{IntoCondition, PostgresQueryBuilder, SelectStatement},
};
use sea_orm_migration::MigratorTrait;

use crate::error::Error;

/// How long a connection attempt may take, and how long a call waits for a
/// pooled connection unless told otherwise ([`connect_with`]).
const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::config::DEFAULT_MAX_CONNECTIONS;

/// How long an SQLite statement waits for another connection's write lock
/// before it fails with SQLITE_BUSY. Write transactions take the lock at their
/// start ([`begin_write`]), so this is a queue, not a retry.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows one statement of [`prune_log`] deletes at most: a long delete would
/// hold SQLite's write lock (and PostgreSQL's row locks) for its whole run.
const PRUNE_BATCH: u64 = 5000;

/// The embedded default for a service: `<data_dir>/<service>.db`, created on demand.
pub fn default_sqlite_url(data_dir: &Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    )
}

/// Connects, creating the SQLite file's directory when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    connect_with(url, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS).await
}

/// Connects with a pool of at most `max_connections` (PostgreSQL; SQLite keeps
/// a small pool of its own); a call waits at most `acquire_timeout` for a
/// connection, then fails UNAVAILABLE (keep it under the request deadline, so a
/// lost database answers UNAVAILABLE rather than DEADLINE_EXCEEDED).
pub async fn connect_with(
    url: &str,
    acquire_timeout: Duration,
    max_connections: u32,
) -> Result<DatabaseConnection, Error> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or_default();
        if let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(Error::internal)?;
        }
        // SQLite takes one writer at a time; a small pool avoids busy waits.
        options.max_connections(4).min_connections(1);
        // Write-ahead logging: readers never wait for the writer, nor it for
        // them. The mode is stored in the file; setting it again is a no-op.
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    } else {
        // Statements are prepared once per connection, and after five runs
        // PostgreSQL reuses one generic plan unless it looks costlier: point
        // reads and writes then skip the planner. Queries whose best plan depends on their
        // values run through [`query_planned_per_run`] instead.
        options
            .max_connections(max_connections.max(1))
            .min_connections(2.min(max_connections.max(1)));
    }
    Database::connect(options).await.map_err(Error::from)
}

/// Runs `select` planned for its own values on every run, and returns its
/// rows: for queries whose best plan depends on the values, such as a range
/// search over an index, where one prefix matches three rows and another three
/// million. A prepared statement would after a few runs get PostgreSQL's
/// generic plan, made without the values, which for such a range can be a long
/// scan; forcing custom plans for the whole pool instead would make every
/// other statement pay the planner on every run.
///
/// On PostgreSQL the values are written into the SQL text (sea-query's
/// escaping) and the text goes out over the simple query protocol: one round
/// trip, planned with the values. An unnamed prepared statement would be
/// planned with them too, but sqlx describes it first, a second round trip on
/// every run. SQLite plans every run with the values anyway.
pub async fn query_planned_per_run(
    db: &DatabaseConnection,
    select: &SelectStatement,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return db.query_all_raw(backend.build(select)).await;
    }
    let sql = select.to_string(PostgresQueryBuilder);
    let rows = sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(sql))
        .fetch_all(db.get_postgres_connection_pool())
        .await
        .map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))?;
    Ok(rows.into_iter().map(QueryResult::from).collect())
}

/// Applies pending migrations of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), Error> {
    M::up(db, None).await.map_err(Error::from)
}

pub use crate::error::is_unique_violation;

/// A transaction for a change: what every write transaction of every service
/// starts with.
///
/// * SQLite: `BEGIN IMMEDIATE`, which takes the database's write lock at once,
///   waiting for it (up to the busy timeout) while another writer holds it. A
///   plain (deferred) transaction that read first and wrote later would instead
///   fail with SQLITE_BUSY when another writer committed in between: its
///   snapshot can no longer become a write.
/// * PostgreSQL: an ordinary transaction; row locks, unique constraints and
///   the outbox's advisory lock ([`before_append`]) order concurrent writers.
///
/// Returns the driver's error, so `?` works in functions returning either
/// [`Error`] or `DbErr`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// Every transaction that appends to an outbox calls this right before the
/// append; it marks a keyed call's idempotency claim applied
/// ([`crate::idempotency::mark_applied`]), atomically with the change.
///
/// The append itself is ordered by the database: on PostgreSQL the INSERT
/// into an outbox takes the outbox's transaction-scoped advisory lock before it
/// draws a sequence number (a statement trigger the migrations install):
/// shared for the users' and roles' outboxes, whose readers settle the gaps
/// of appends committing out of order ([`crate::outbox`]); exclusive for
/// the others, whose numbers become visible in commit order. The same trigger makes the
/// transaction commit asynchronously, so the lock is released as soon as the
/// commit is written rather than after the disk flush: commit it, then wait
/// for [`crate::durability::Durability`] before answering (see there why and
/// how that is as durable as a synchronous commit); that barrier also
/// announces the commit to other replicas ([`crate::wake::on_remote_commits`]).
/// SQLite has a single writer already.
pub async fn before_append(txn: &sea_orm::DatabaseTransaction) -> Result<(), Error> {
    crate::idempotency::mark_applied(txn).await?;
    Ok(())
}

/// Takes the outbox turn `key` at once and exclusively, for a transaction
/// that must hold it from its first statement (e.g. one computing a count
/// that its event carries), and marks the call's claim applied as
/// [`before_append`] does. Its appends later take the same lock again, which
/// a holder passes at once.
/// SQLite's write lock is taken at `BEGIN` ([`begin_write`]) already.
pub async fn lock_outbox(txn: &sea_orm::DatabaseTransaction, key: i64) -> Result<(), Error> {
    before_append(txn).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
            .await?;
    }
    Ok(())
}

/// The oldest sequence number of an event log (`seq` is its primary key);
/// `None` when it is empty.
pub async fn oldest_seq<E: EntityTrait>(
    db: &impl ConnectionTrait,
    seq: E::Column,
) -> Result<Option<i64>, DbErr> {
    E::find()
        .select_only()
        .column(seq)
        .order_by_asc(seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await
}

/// The newest sequence of an event log whose primary key is `seq` (0: empty):
/// where a watch `from_now` starts.
pub async fn newest_seq<E: EntityTrait>(
    db: &impl ConnectionTrait,
    seq: E::Column,
) -> Result<i64, DbErr> {
    Ok(E::find()
        .select_only()
        .column(seq)
        .order_by_desc(seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}

/// Deletes the oldest events of an event log whose primary key is `seq`:
/// those before the first event matching `recent` (e.g. "occurred after the
/// retention's cutoff") and not among the newest `keep` (at least one is always
/// kept, so a sequence never restarts). Deletes a prefix, never an event between
/// two kept ones, so the log stays contiguous from its oldest kept event. Returns
/// how many events were deleted.
pub async fn prune_log<E: EntityTrait>(
    db: &DatabaseConnection,
    seq: E::Column,
    recent: impl IntoCondition,
    keep: u64,
) -> Result<u64, DbErr> {
    let newest_kept_by_count = E::find()
        .select_only()
        .column(seq)
        .order_by_desc(seq)
        .offset(keep.max(1) - 1)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let Some(newest_kept_by_count) = newest_kept_by_count else {
        return Ok(0);
    };
    // Walks the primary key from the oldest event: as far as the events to prune.
    let first_recent = E::find()
        .select_only()
        .column(seq)
        .filter(recent)
        .order_by_asc(seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let keep_from = first_recent.map_or(newest_kept_by_count, |first| {
        first.min(newest_kept_by_count)
    });
    let mut deleted = 0;
    loop {
        let batch_last = E::find()
            .select_only()
            .column(seq)
            .filter(seq.lt(keep_from))
            .order_by_asc(seq)
            .offset(PRUNE_BATCH - 1)
            .limit(1)
            .into_tuple::<i64>()
            .one(db)
            .await?;
        let below = batch_last.map_or(keep_from, |last| last + 1);
        deleted += E::delete_many()
            .filter(seq.lt(below))
            .exec(db)
            .await?
            .rows_affected;
        if batch_last.is_none() {
            return Ok(deleted);
        }
    }
}
