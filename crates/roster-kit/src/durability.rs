//! Durability of outbox appends on PostgreSQL, apart from their commit.
//!
//! Outbox appends are serialised by an advisory lock held until commit
//! ([`crate::db::before_append`]). With a synchronous commit the lock would
//! also be held through the commit's WAL flush, so every change of a
//! service would wait for the disk one after the other, and PostgreSQL could
//! never flush several commits at once. Appending transactions therefore
//! commit asynchronously (the lock is released as soon as the commit record
//! is written), and [`Durability::wait`] then makes the commit durable before
//! anyone relies on it:
//!
//! * a writer waits before it answers its caller, so an acknowledged change
//!   is on disk, exactly as with a synchronous commit;
//! * an outbox reader waits after reading and before handing events on (watch
//!   streams, and through them the NATS relay and the other services'
//!   followers), so no consumer ever sees an event a crash could still undo.
//!
//! A wait is a barrier: a tiny transaction that writes WAL (a transactional
//! logical message, which any role may emit and no decoder needs) and commits
//! synchronously. Its flush covers every WAL record written before it, so every
//! commit that returned before the barrier started. Waits are coalesced: while
//! one barrier runs the others queue, and the next barrier covers all of them,
//! so concurrent writers share one flush (group commit) instead of each
//! paying its own.
//!
//! On SQLite transactions commit as they always do and waits return at once.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};
use tokio::sync::Mutex;

use crate::error::Error;

/// Waits for commits of one database to be on disk. Cheap to clone.
#[derive(Clone)]
pub struct Durability {
    barrier: Option<Arc<Barrier>>,
}

struct Barrier {
    db: DatabaseConnection,
    /// Waits asked for so far (a wait's ticket is its position).
    requested: AtomicU64,
    /// Every wait up to this ticket is covered by a finished barrier.
    covered: AtomicU64,
    /// Held while a barrier runs; waits queue for it in order.
    running: Mutex<()>,
}

impl Durability {
    /// Barriers on `db` (PostgreSQL); none on SQLite, where commits are
    /// synchronous.
    pub fn new(db: &DatabaseConnection) -> Self {
        let barrier = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            Arc::new(Barrier {
                db: db.clone(),
                requested: AtomicU64::new(0),
                covered: AtomicU64::new(0),
                running: Mutex::new(()),
            })
        });
        Self { barrier }
    }

    /// Commits `txn` (one that appended to an outbox, so it commits
    /// asynchronously) and returns once it is durable.
    pub async fn commit(&self, txn: DatabaseTransaction) -> Result<(), Error> {
        txn.commit().await?;
        self.wait().await
    }

    /// `events` just read from an outbox, once they are durable: what every
    /// outbox reader hands on (none read: nothing to wait for).
    pub async fn hand_on<T>(&self, events: Vec<T>) -> Result<Vec<T>, Error> {
        if !events.is_empty() {
            self.wait().await?;
        }
        Ok(events)
    }

    /// Returns once every transaction of this database that committed
    /// before the call is durable.
    pub async fn wait(&self) -> Result<(), Error> {
        let Some(barrier) = &self.barrier else {
            return Ok(());
        };
        let ticket = barrier.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = barrier.running.lock().await;
        if barrier.covered.load(Ordering::SeqCst) >= ticket {
            // A barrier that started after this wait was asked for finished
            // while it queued.
            return Ok(());
        }
        // Every wait up to `covers` was asked for, after its commit, before
        // this barrier starts.
        let covers = barrier.requested.load(Ordering::SeqCst);
        barrier
            .db
            .execute_unprepared("SELECT pg_logical_emit_message(true, 'roster', '')")
            .await?;
        barrier.covered.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }
}
