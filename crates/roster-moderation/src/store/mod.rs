//! Storage of flags, bans, deletion jobs, the audit log and the moderation
//! events (the outbox), through sea-orm, on SQLite or PostgreSQL. Every change,
//! its audit entry and its events are written in one transaction.
//!
//! One module per capability, each implementing its part of
//! [`ModerationRepository`](crate::domain::ports::ModerationRepository).

mod audit;
mod bans;
mod deletion;
mod deletion_guard;
mod entity;
mod events;
mod flags;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{Error, Result, durability::Durability};
use roster_migrations::{ModerationMigrator, moderation::OUTBOX_LOCK_KEY};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, DatabaseConnection, DatabaseTransaction, EntityTrait,
    Set,
};
use tokio::sync::Notify;

use crate::domain::{audit::AuditRecord, events::ModerationEvent};

/// The moderation service's repository. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Makes writes durable after their (asynchronous) commit, and outbox
    /// reads durable before they are handed on.
    durability: Durability,
    changes: Arc<Notify>,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            durability: Durability::new(&db, OUTBOX_LOCK_KEY),
            db,
            changes: Arc::new(Notify::new()),
        }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Wakes this process's event streams whenever any replica commits a
    /// moderation change (PostgreSQL; see `roster_kit::wake`), until the
    /// returned task is dropped.
    pub fn wake_on_remote_commits(&self) -> roster_kit::tasks::BackgroundTask {
        roster_kit::wake::on_remote_commits(&self.db, OUTBOX_LOCK_KEY, self.changes.clone())
    }

    /// Applies the moderation service's pending migrations.
    pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
        roster_kit::db::migrate::<ModerationMigrator>(db).await
    }

    /// A transaction for a change that may append events, holding the write
    /// lock from its first statement:
    ///
    /// * PostgreSQL: the outbox's advisory lock, so events become visible in
    ///   sequence order and counts computed inside (e.g. a user's flag count)
    ///   are exact when the event carrying them commits;
    /// * SQLite: the database's write lock, taken at `BEGIN` (see
    ///   [`roster_kit::db::begin_write`]).
    async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let txn = roster_kit::db::begin_write(&self.db).await?;
        roster_kit::db::lock_outbox(&txn, OUTBOX_LOCK_KEY).await?;
        Ok(txn)
    }

    /// Commits a transaction opened by [`Store::begin_write`] and returns
    /// once it is durable (it committed asynchronously: see
    /// `roster_kit::db::before_append`), waking the event streams when
    /// `appended` events.
    async fn commit(&self, txn: DatabaseTransaction, appended: bool) -> Result<()> {
        self.durability.commit(txn).await?;
        if appended {
            self.changes.notify_waiters();
        }
        Ok(())
    }
}

pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} is not valid"))
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt(format_args!("time {ms}")))
}

pub(crate) fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(time).transpose()
}

/// The stored form of an event: who caused it, and what.
#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    actor: String,
    event: ModerationEvent,
}

/// Appends an event inside `txn` (opened with `begin_write`); returns its sequence number.
async fn append_event(
    txn: &DatabaseTransaction,
    actor: &str,
    event: ModerationEvent,
    now: DateTime<Utc>,
) -> Result<i64> {
    // Only the sequence number comes back, not the payload just sent.
    let inserted = entity::event::Entity::insert(event_row(actor, event, now)?)
        .exec(txn)
        .await?;
    Ok(inserted.last_insert_id)
}

/// Appends `events` in order inside `txn`, many rows per statement (a
/// deletion can remove thousands of flags at once).
async fn append_events(
    txn: &DatabaseTransaction,
    actor: &str,
    events: Vec<ModerationEvent>,
    now: DateTime<Utc>,
) -> Result<()> {
    // Well under SQLite's bound on parameters in one statement.
    const ROWS_PER_INSERT: usize = 500;
    let rows = events
        .into_iter()
        .map(|event| event_row(actor, event, now))
        .collect::<Result<Vec<_>>>()?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        entity::event::Entity::insert_many(chunk.to_vec())
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The outbox row of `event`.
fn event_row(
    actor: &str,
    event: ModerationEvent,
    now: DateTime<Utc>,
) -> Result<entity::event::ActiveModel> {
    let kind = event.kind();
    let user_id = event.user_id();
    let payload = serde_json::to_string(&Payload {
        actor: actor.to_owned(),
        event,
    })
    .map_err(Error::internal)?;
    // The actor the domain names (a deletion job's requester, also when the
    // runner finishes it later), with the request, trace and reason of the
    // call when there is one.
    let origin = roster_kit::origin::current("moderation");
    Ok(entity::event::ActiveModel {
        seq: NotSet,
        kind: Set(kind.to_owned()),
        user_id: Set(user_id),
        payload: Set(payload),
        occurred_at_ms: Set(ms(now)),
        actor: Set(Some(actor.to_owned()).filter(|a| !a.is_empty())),
        request_id: Set(roster_kit::origin::column(&origin.request_id)),
        trace_id: Set(roster_kit::origin::column(&origin.trace_id)),
        reason: Set(roster_kit::origin::column(&origin.reason)),
    })
}

/// Records an audit entry inside `txn`.
async fn insert_audit(
    txn: &DatabaseTransaction,
    record: &AuditRecord,
    at: DateTime<Utc>,
) -> Result<()> {
    audit_row(record, at)?.insert(txn).await?;
    Ok(())
}

/// The audit log row of `record`, made at `at`.
fn audit_row(record: &AuditRecord, at: DateTime<Utc>) -> Result<entity::audit::ActiveModel> {
    let details = serde_json::to_string(&record.details).map_err(Error::internal)?;
    Ok(entity::audit::ActiveModel {
        id: NotSet,
        actor: Set(record.actor.clone()),
        target_user_id: Set(record.target_user_id),
        action: Set(record.action.as_str().to_owned()),
        reason: Set(record.reason.clone()),
        request_id: Set(record.request_id.clone()),
        details: Set(details),
        occurred_at_ms: Set(ms(at)),
    })
}
