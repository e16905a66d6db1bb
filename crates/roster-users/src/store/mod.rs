//! Storage of users and their change events (the outbox), through sea-orm, on
//! SQLite or PostgreSQL. Every change and its event are written in one
//! transaction. One module per capability, each implementing its trait of
//! [`crate::domain::ports::UserRepository`].

mod collation;
mod entity;
mod events;
mod loader;
mod mapping;
mod moderation;
mod own_changes;
mod presence;
mod roles;
mod rows;
mod search;
mod users;

use std::sync::Arc;

use roster_kit::{Error, cache::Cache, durability::Durability};
use roster_migrations::users::OUTBOX_LOCK_KEY;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::Notify;

use crate::domain::{PresenceFeed, User, collation::Collation};

pub use collation::RekeyReport;

#[derive(Clone)]
pub struct UserStore {
    db: DatabaseConnection,
    /// Makes appends durable after their (asynchronous) commit, and outbox
    /// reads durable before they are handed on.
    durability: Durability,
    committed: Arc<Notify>,
    /// Users by id. Changes made here replace their entry when they commit
    /// (`own_changes`); changes made by other replicas are invalidated by
    /// `follow_remote_changes`.
    cache: Arc<Cache<i64, User>>,
    /// Entries cached from changes made here that the follower has not read
    /// back yet, so it keeps them.
    own_changes: Arc<own_changes::OwnChanges>,
    /// Reads the users the cache misses, several at once under load.
    loader: Arc<loader::UserLoader>,
    /// Ids by exact name, for name lookups (what resolving an @mention does).
    /// Never trusted alone: a hit is served only when `cache` holds that id
    /// under that very name, so it is exactly as fresh as the id cache, which
    /// renames and deletions invalidate (names themselves never change).
    names: Arc<Cache<String, i64>>,
    /// Last outbox sequence whose change this replica's cache reflects.
    cache_position: Arc<tokio::sync::watch::Sender<i64>>,
    /// Makes the sort keys of display names and the ranges of keywords.
    collation: Arc<Collation>,
    /// Presence changes as they commit, here or on other replicas.
    presence: Arc<PresenceFeed>,
    /// This replica's name in its presence notifications (it ignores its own).
    replica: Arc<str>,
}

impl UserStore {
    /// A store keeping up to `cached_users` users (and as many names) in
    /// memory (see `UserRecords::find`).
    pub fn new(db: DatabaseConnection, collation: Arc<Collation>, cached_users: usize) -> Self {
        let cache = Arc::new(Cache::new("users", cached_users));
        Self {
            loader: Arc::new(loader::UserLoader::start(db.clone(), cache.clone())),
            durability: Durability::new(&db, OUTBOX_LOCK_KEY),
            db,
            collation,
            committed: Arc::new(Notify::new()),
            cache,
            own_changes: Arc::default(),
            names: Arc::new(Cache::new("user_names", cached_users)),
            cache_position: Arc::new(tokio::sync::watch::Sender::new(0)),
            presence: Arc::new(PresenceFeed::default()),
            replica: hex::encode(rand::random::<[u8; 8]>()).into(),
        }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Commits a transaction that appended to the outbox, returns once the
    /// change is durable, and wakes the event streams.
    async fn commit(&self, txn: DatabaseTransaction) -> Result<(), Error> {
        self.durability.commit(txn).await?;
        self.committed.notify_waiters();
        Ok(())
    }
}
