//! Durability of outbox appends on PostgreSQL, apart from their commit.
//!
//! Outbox appends hold an advisory lock until commit
//! ([`crate::db::before_append`]): exclusive in some outboxes, and in the
//! others shared but waited for by readers settling a gap
//! ([`crate::outbox`]). With a synchronous commit the lock would
//! also be held through the commit's WAL flush, so changes would wait for
//! the disk one after the other (and readers for every change in flight to
//! reach it), and PostgreSQL could never flush several commits at once.
//! Appending transactions therefore
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
//! The barrier also has the commits it covers announced to other processes:
//! when a barrier that follows a commit starts, a notification goes to the
//! outbox's channel ([`crate::wake::outbox_channel`]), in a statement of its
//! own, in the background (the commits are visible by then, and readers wait
//! for durability themselves). The appending transactions themselves do not
//! notify: PostgreSQL serialises the commits of all transactions that
//! notified, database-wide, holding the turn through their disk flush, so a
//! notification per append made every commit wait for the one before, and a
//! notification inside the barrier would make the barriers of different
//! services wait for each other's flush. Alone, a notification writes
//! nothing and flushes nothing, so its turn is short; and one per barrier is
//! one per group of concurrent writers.
//!
//! On SQLite transactions commit as they always do and waits return at once.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};
use tokio::sync::Mutex;

use crate::error::Error;

/// A barrier: a transactional logical message, which gives the statement a
/// transaction that writes WAL, so its synchronous commit flushes the WAL.
const BARRIER: &str = "SELECT pg_logical_emit_message(true, 'roster', '')";

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
    /// A commit happened that no barrier has announced yet.
    unannounced: AtomicBool,
    /// The statement announcing commits.
    announcement: String,
}

impl Durability {
    /// Barriers on `db` (PostgreSQL), announcing commits to the outbox locked
    /// with `outbox_key`; none on SQLite, where commits are synchronous.
    pub fn new(db: &DatabaseConnection, outbox_key: i64) -> Self {
        let barrier = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            Arc::new(Barrier {
                db: db.clone(),
                requested: AtomicU64::new(0),
                covered: AtomicU64::new(0),
                running: Mutex::new(()),
                unannounced: AtomicBool::new(false),
                announcement: format!(
                    "SELECT pg_notify('{}', '')",
                    crate::wake::outbox_channel(outbox_key)
                ),
            })
        });
        Self { barrier }
    }

    /// Commits `txn` (one that appended to an outbox, so it commits
    /// asynchronously) and returns once it is durable; the barrier it waits
    /// for also has it announced to other processes.
    pub async fn commit(&self, txn: DatabaseTransaction) -> Result<(), Error> {
        txn.commit().await?;
        if let Some(barrier) = &self.barrier {
            // Before the wait's ticket: the barrier that covers the ticket
            // sees this, and announces after the commit.
            barrier.unannounced.store(true, Ordering::SeqCst);
        }
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
        if barrier.unannounced.swap(false, Ordering::SeqCst) {
            // The commits this barrier covers are visible already, and a
            // replica that reads them waits for their durability itself: the
            // announcement need not wait for the flush. A hint: a lost one
            // costs other replicas a poll interval.
            let (db, announcement) = (barrier.db.clone(), barrier.announcement.clone());
            tokio::spawn(async move {
                if let Err(err) = db.execute_unprepared(&announcement).await {
                    tracing::debug!(error = %err, "announcing outbox commits failed");
                }
            });
        }
        barrier.db.execute_unprepared(BARRIER).await?;
        barrier.covered.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }
}
