//! The raw-SQL ceilings of the write paths: each change written the obvious
//! way, its row statement and the INSERT of its event in one transaction per
//! change, 16 clients on one pool (pgbench's shape), against the same
//! PostgreSQL database the service writes to, with a synchronous commit and
//! without the service's outbox lock (its triggers are off while they run).

use std::{sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::measure::{self, LoadShape, Rpc, Throughput};

/// The ceiling's clients (pgbench's shape in the issue that set the targets).
pub const CLIENTS: usize = 16;

/// One change: its statements, run in order in one transaction.
pub type Change = Vec<(&'static str, Vec<Value>)>;

/// A pool of [`CLIENTS`] connections to `url`.
pub async fn pool(url: &str) -> anyhow::Result<Arc<DatabaseConnection>> {
    Ok(Arc::new(
        roster_kit::db::connect_with(url, Duration::from_secs(10), u32::try_from(CLIENTS)?).await?,
    ))
}

/// The outbox tables whose appends the service orders (a statement
/// trigger taking the outbox's lock, see the migrations' `outbox_turn`).
const OUTBOXES: [&str; 2] = ["user_events", "role_events"];

/// Runs the ceilings' INSERTs the obvious way: without the outboxes' append
/// triggers (no lock, synchronous commit), as the targets were set. Call
/// [`restore_outbox_triggers`] afterwards.
pub async fn without_outbox_triggers(db: &DatabaseConnection) -> anyhow::Result<()> {
    for table in OUTBOXES {
        db.execute_unprepared(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
            .await?;
    }
    Ok(())
}

/// Undoes [`without_outbox_triggers`].
pub async fn restore_outbox_triggers(db: &DatabaseConnection) -> anyhow::Result<()> {
    for table in OUTBOXES {
        db.execute_unprepared(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))
            .await?;
    }
    Ok(())
}

/// Throughput of `change(n)` written one transaction each by [`CLIENTS`]
/// clients for `seconds`.
pub async fn measure(
    db: Arc<DatabaseConnection>,
    seconds: u64,
    change: impl Fn(u64) -> Change + Send + Sync + 'static,
) -> Throughput {
    let change = Arc::new(change);
    let call = Rpc {
        lanes: vec![()],
        f: move |(), n: u64| {
            let (db, change) = (db.clone(), change.clone());
            async move {
                let write = async {
                    let txn = db.begin().await?;
                    for (sql, values) in change(n) {
                        txn.execute_raw(Statement::from_sql_and_values(
                            DbBackend::Postgres,
                            sql,
                            values,
                        ))
                        .await?;
                    }
                    txn.commit().await
                };
                write.await.map_err(|e| e.to_string())
            }
        },
    };
    measure::throughput(
        Arc::new(call),
        LoadShape {
            unloaded_requests: 0,
            in_flight: CLIENTS,
            connections: 1,
            duration: Duration::from_secs(seconds),
        },
    )
    .await
}

/// The newest payload of an event log: a realistic event body for the
/// ceilings' inserts.
pub async fn sample_payload(db: &DatabaseConnection, log: &str) -> anyhow::Result<String> {
    Ok(db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT payload FROM {log} ORDER BY seq DESC LIMIT 1"),
        ))
        .await?
        .map(|row| row.try_get("", "payload"))
        .transpose()?
        .unwrap_or_default())
}
