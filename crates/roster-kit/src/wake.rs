//! Waking this process when another one commits to a shared outbox.
//!
//! On PostgreSQL every commit that appended to an outbox is announced
//! (`pg_notify`, sent when the durability barrier after it starts, so once it
//! is visible, and once for many concurrent commits: [`crate::durability`]),
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
use tokio::sync::{Notify, mpsc};

use crate::tasks::BackgroundTask;

/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Notifications heard but not yet read, at most.
const HEARD_BUFFER: usize = 1024;

/// The notification channel of the outbox locked with `key`
/// ([`crate::db::before_append`]): the key names the outbox already.
pub fn outbox_channel(key: i64) -> String {
    format!("roster_outbox_{key:x}")
}

/// Wakes `wake` (`notify_waiters`) whenever any process commits to the outbox
/// locked with `key`, until the returned task is dropped. Does nothing on
/// SQLite.
pub fn on_remote_commits(db: &DatabaseConnection, key: i64, wake: Arc<Notify>) -> BackgroundTask {
    let (listener, mut heard) = listen(db, outbox_channel(key));
    BackgroundTask::spawn(async move {
        let _listener = listener;
        // Every notification and every (re)connection wakes: after a
        // reconnection the waiters catch up on what was not heard.
        while heard.recv().await.is_some() {
            wake.notify_waiters();
        }
    })
}

/// What a listener heard on its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The listener (re)connected and listens: whatever was sent before this
    /// was not heard.
    Listening,
    /// One notification's payload.
    Payload(String),
}

/// Notifications sent on `channel` (`pg_notify`, delivered when the sending
/// transaction commits), in the order they were sent, until the returned task
/// is dropped; nothing on SQLite. The listening connection is its own (a
/// pool of one made from `db`'s connect options), not one of `db`'s pooled
/// connections; it reconnects by itself, announcing each reconnection with
/// [`Heard::Listening`]. A slow reader holds the listener back rather than
/// losing notifications (PostgreSQL queues them meanwhile).
pub fn listen(db: &DatabaseConnection, channel: String) -> (BackgroundTask, mpsc::Receiver<Heard>) {
    let (sender, receiver) = mpsc::channel(HEARD_BUFFER);
    if db.get_database_backend() != DbBackend::Postgres {
        return (BackgroundTask::spawn(async {}), receiver);
    }
    let options = db.get_postgres_connection_pool().connect_options();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with((*options).clone());
    let task = BackgroundTask::spawn(async move {
        loop {
            match listen_once(&pool, &channel, &sender).await {
                Ok(()) => return, // nobody reads any more
                Err(err) => {
                    tracing::warn!(channel, error = %err, "listening for notifications failed; retrying");
                }
            }
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    });
    (task, receiver)
}

/// Listens on `channel`, passing on what it hears, until the receiver is gone
/// (`Ok`) or an error the listener does not recover from by itself.
async fn listen_once(
    pool: &sqlx::PgPool,
    channel: &str,
    heard: &mpsc::Sender<Heard>,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    if heard.send(Heard::Listening).await.is_err() {
        return Ok(());
    }
    loop {
        let next = match listener.try_recv().await? {
            Some(notification) => Heard::Payload(notification.payload().to_owned()),
            None => {
                // The connection dropped and the listener connected and
                // listened again: what was sent in between was not heard.
                tracing::info!(channel, "listener reconnected");
                Heard::Listening
            }
        };
        if heard.send(next).await.is_err() {
            return Ok(());
        }
    }
}
