//! The role event log: appends inside a change's transaction, reads for
//! watchers, pruning to the retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{
    Error, Result, db,
    events::{self, PrunableLog, Retention},
    origin, outbox,
};
use roster_migrations::roles::OUTBOX_LOCK_KEY;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, DatabaseTransaction, EntityName, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{Store, corrupt, entity::role_event};
use crate::domain::{RoleEvent, StoredEvent, ports::EventRepository};

/// Rows per multi-row insert: seven bound values each, well under both
/// backends' limit on parameters per statement.
const EVENTS_PER_INSERT: usize = 1000;

impl Store {
    /// Wakes `wake` whenever any replica commits a role change (PostgreSQL;
    /// see `roster_kit::wake`), until the returned task is dropped.
    pub fn wake_on_remote_commits(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> events::BackgroundTask {
        roster_kit::wake::on_remote_commits(&self.db, OUTBOX_LOCK_KEY, wake)
    }
}

fn event_row(event: &RoleEvent, now: DateTime<Utc>) -> Result<role_event::ActiveModel> {
    let origin = origin::current("roles");
    Ok(role_event::ActiveModel {
        seq: NotSet,
        kind: Set(event.kind().to_owned()),
        payload: Set(serde_json::to_string(event).map_err(Error::internal)?),
        occurred_at: Set(now),
        actor: Set(origin::column(&origin.actor)),
        request_id: Set(origin::column(&origin.request_id)),
        trace_id: Set(origin::column(&origin.trace_id)),
        reason: Set(origin::column(&origin.reason)),
    })
}

fn event_from_row(row: role_event::Model) -> Result<StoredEvent> {
    let event: RoleEvent = serde_json::from_str(&row.payload)
        .map_err(|_| corrupt(format_args!("role event {}", row.seq)))?;
    Ok(StoredEvent {
        seq: row.seq,
        occurred_at: row.occurred_at,
        event,
        origin: origin::Origin::from_columns(
            "roles",
            row.actor,
            row.request_id,
            row.trace_id,
            row.reason,
        ),
    })
}

/// Appends `event` to the outbox inside `txn`; returns its sequence number.
pub(super) async fn append_event(
    txn: &DatabaseTransaction,
    event: &RoleEvent,
    now: DateTime<Utc>,
) -> Result<i64> {
    db::before_append(txn).await?;
    // Only the sequence number comes back, not the payload just sent.
    let inserted = role_event::Entity::insert(event_row(event, now)?)
        .exec(txn)
        .await?;
    Ok(inserted.last_insert_id)
}

/// Appends `events`, in order, with a few multi-row inserts instead of one
/// round trip each; returns the last one's sequence number (`None` for none).
pub(super) async fn append_events(
    txn: &DatabaseTransaction,
    events: &[RoleEvent],
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    if events.is_empty() {
        return Ok(None);
    }
    db::before_append(txn).await?;
    let mut last = None;
    for batch in events.chunks(EVENTS_PER_INSERT) {
        let rows = batch
            .iter()
            .map(|event| event_row(event, now))
            .collect::<Result<Vec<_>>>()?;
        // Appends run side by side: the newest row may be another's.
        let numbered = role_event::Entity::insert_many(rows)
            .exec_with_returning_keys(txn)
            .await?;
        last = numbered.into_iter().max().max(last);
    }
    Ok(last)
}

#[async_trait]
impl EventRepository for Store {
    /// OUT_OF_RANGE / CURSOR_EXPIRED when the events right after `seq` were pruned.
    async fn events_after(&self, seq: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        let read = || {
            role_event::Entity::find()
                .filter(role_event::Column::Seq.gt(seq))
                .order_by_asc(role_event::Column::Seq)
                .limit(limit)
                .all(&self.db)
        };
        let events = outbox::read_in_order(
            &self.db,
            role_event::Entity.table_name(),
            seq,
            |row| row.seq,
            read,
        )
        .await?
        .into_iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>>>()?;
        if events.first().is_some_and(|e| e.seq > seq + 1) {
            let oldest =
                db::oldest_seq::<role_event::Entity>(&self.db, role_event::Column::Seq).await?;
            events::ensure_kept(seq, oldest)?;
        }
        self.durability.hand_on(events).await
    }

    /// Where a reader starting now begins: no event after it has committed
    /// yet, nor will one numbered before it.
    async fn last_event_seq(&self) -> Result<i64> {
        Ok(outbox::newest_settled(&self.db, role_event::Entity.table_name()).await?)
    }
}

#[async_trait]
impl PrunableLog for Store {
    async fn prune(&self, retention: Retention, now: DateTime<Utc>) -> Result<u64> {
        Ok(db::prune_log::<role_event::Entity>(
            &self.db,
            role_event::Column::Seq,
            role_event::Column::OccurredAt.gte(retention.cutoff(now)),
            retention.min_events,
        )
        .await?)
    }
}
