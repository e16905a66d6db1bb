//! The outbox, read back in sequence order, and pruned to its retention.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{
    Result, db,
    events::{self, PrunableLog, Retention},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;

use super::{Payload, Store, corrupt, entity::event, ms, time};
use crate::domain::{events::StoredEvent, ports::EventRepository};

fn event_from_row(row: event::Model) -> Result<StoredEvent> {
    let payload: Payload = serde_json::from_str(&row.payload)
        .map_err(|_| corrupt(format_args!("moderation event {}", row.seq)))?;
    let origin = roster_kit::origin::Origin::from_columns(
        "moderation",
        row.actor
            .or_else(|| Some(payload.actor.clone()).filter(|a| !a.is_empty())),
        row.request_id,
        row.trace_id,
        row.reason,
    );
    Ok(StoredEvent {
        seq: row.seq,
        occurred_at: time(row.occurred_at_ms)?,
        actor: payload.actor,
        event: payload.event,
        origin,
    })
}

#[async_trait]
impl EventRepository for Store {
    fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }

    async fn newest_event_seq(&self) -> Result<i64> {
        Ok(db::newest_seq::<event::Entity>(&self.db, event::Column::Seq).await?)
    }

    /// OUT_OF_RANGE / CURSOR_EXPIRED when the events right after `after` were pruned.
    async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        let events = event::Entity::find()
            .filter(event::Column::Seq.gt(after))
            .order_by_asc(event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        if events.first().is_some_and(|e| e.seq > after + 1) {
            let oldest = db::oldest_seq::<event::Entity>(&self.db, event::Column::Seq).await?;
            events::ensure_kept(after, oldest)?;
        }
        self.durability.hand_on(events).await
    }
}

#[async_trait]
impl PrunableLog for Store {
    async fn prune(&self, retention: Retention, now: DateTime<Utc>) -> Result<u64> {
        Ok(db::prune_log::<event::Entity>(
            &self.db,
            event::Column::Seq,
            event::Column::OccurredAtMs.gte(ms(retention.cutoff(now))),
            retention.min_events,
        )
        .await?)
    }
}
