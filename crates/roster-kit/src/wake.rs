//! Waking this process when another one commits to a shared outbox.
//!
//! On PostgreSQL every outbox append notifies (`pg_notify`, sent in the
//! appending transaction, so only when it commits: [`crate::db::lock_outbox`]),
//! on one channel per outbox. [`on_remote_commits`] listens on that channel
//! over a dedicated connection and wakes the same [`Notify`] local commits
//! wake, so watch streams and cache followers of every replica learn of a
//! change within a round trip instead of at their next poll.
//!
//! Guarantees: a notification is a hint, never the data. Followers still read
//! the outbox after waking, and still poll (`event_poll_interval_ms`) as the
//! fallback: while the listening connection is down (it reconnects and listens
//! again by itself) notifications are lost, so on every reconnect the waiters
//! are woken once to catch up. On SQLite there is no other process to hear;
//! in-process commits wake their followers directly and other processes on the
//! same file rely on the poll.

use std::{sync::Arc, time::Duration};

use sea_orm::{DatabaseConnection, DbBackend, sqlx};
use tokio::sync::Notify;

use crate::tasks::BackgroundTask;

/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The notification channel of the outbox locked with `key`
/// ([`crate::db::lock_outbox`]): the key names the outbox already.
pub fn outbox_channel(key: i64) -> String {
    format!("roster_outbox_{key:x}")
}

/// Wakes `wake` (`notify_waiters`) whenever any process commits to the outbox
/// locked with `key`, until the returned task is dropped. Does nothing on
/// SQLite. The listening connection is its own (a pool of one made from
/// `db`'s connect options), not one of `db`'s pooled connections.
pub fn on_remote_commits(db: &DatabaseConnection, key: i64, wake: Arc<Notify>) -> BackgroundTask {
    if db.get_database_backend() != DbBackend::Postgres {
        return BackgroundTask::spawn(async {});
    }
    let options = db.get_postgres_connection_pool().connect_options();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with((*options).clone());
    let channel = outbox_channel(key);
    BackgroundTask::spawn(async move {
        loop {
            let Err(err) = listen(&pool, &channel, &wake).await;
            tracing::warn!(channel, error = %err, "listening for outbox commits failed; retrying");
            wake.notify_waiters();
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    })
}

/// Listens on `channel`, waking `wake` on every notification, until an error
/// the listener does not recover from by itself.
async fn listen(
    pool: &sqlx::PgPool,
    channel: &str,
    wake: &Notify,
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    // Anything committed before listening was not heard.
    wake.notify_waiters();
    loop {
        if listener.try_recv().await?.is_none() {
            // The connection dropped and the listener connected and listened
            // again: catch up on what was committed in between.
            tracing::info!(channel, "outbox listener reconnected");
        }
        wake.notify_waiters();
    }
}
