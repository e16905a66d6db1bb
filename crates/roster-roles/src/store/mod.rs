//! Storage of custom roles, grants and role events (the outbox), through
//! sea-orm, one module per capability, each implementing its part of the
//! domain's `RoleRepository`. Every change and its events are written in one
//! transaction.

mod entity;
mod grants;
mod outbox;
mod roles;

use roster_kit::{Error, durability::Durability};
use roster_migrations::roles::OUTBOX_LOCK_KEY;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};

/// The role service's tables on SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Makes appends durable after their (asynchronous) commit, and outbox
    /// reads durable before they are handed on.
    durability: Durability,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            durability: Durability::new(&db, OUTBOX_LOCK_KEY),
            db,
        }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// A stored value that does not parse: a bug or a hand-edited row.
fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} is not valid"))
}

fn is_postgres(txn: &DatabaseTransaction) -> bool {
    txn.get_database_backend() == DbBackend::Postgres
}
