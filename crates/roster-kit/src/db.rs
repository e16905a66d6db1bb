//! Database connections (SQLite and PostgreSQL through sea-orm) and migrations.

use std::{path::Path, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

use crate::error::Error;

/// The embedded default for a service: `<data_dir>/<service>.db`, created on demand.
pub fn default_sqlite_url(data_dir: &Path, service: &str) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{service}.db")).display()
    )
}

/// Connects, creating the SQLite file's directory when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
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
    } else {
        options
            .max_connections(32)
            .min_connections(2)
            // Prepared statements would otherwise switch to a generic plan after a
            // few runs, planned without the parameter values; for range searches
            // (a common prefix versus a rare one) that plan can be a long scan.
            .map_sqlx_postgres_opts(|pg| pg.options([("plan_cache_mode", "force_custom_plan")]));
    }
    Database::connect(options).await.map_err(Error::from)
}

/// Applies pending migrations of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), Error> {
    M::up(db, None).await.map_err(Error::from)
}

/// True when `err` is a unique-constraint violation (either backend).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Serialises outbox appends on PostgreSQL with a transaction-scoped advisory
/// lock (`key` per outbox), taken right before the append: sequence numbers then
/// become visible in commit order, so a reader following the sequence never
/// skips an event that commits late. SQLite has a single writer already.
pub async fn lock_outbox(txn: &sea_orm::DatabaseTransaction, key: i64) -> Result<(), Error> {
    use sea_orm::ConnectionTrait;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
            .await?;
    }
    Ok(())
}
