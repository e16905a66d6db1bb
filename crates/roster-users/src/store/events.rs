//! The outbox of user changes: appending events, reading them back for
//! `WatchUserEvents`, pruning what the retention no longer keeps, and keeping
//! this replica's cache in step with the changes other replicas commit.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{
    Error, db,
    events::{self, PrunableLog, Retention},
    origin, outbox,
};
use roster_migrations::users::OUTBOX_LOCK_KEY;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, DatabaseTransaction, EntityName, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tokio::sync::Notify;

use super::{UserStore, entity::user_event, mapping};
use crate::domain::{User, UserEvent, UserEventKind, ports::UserEventLog};

/// Outbox rows one poll of other replicas' changes reads at most.
const CHANGES_PER_POLL: u64 = 1000;

impl UserStore {
    /// Resolves once this replica's cache reflects every change up to outbox
    /// sequence `sequence` (e.g. a `UserEvent` cursor from another replica).
    pub async fn wait_until_cache_reflects(&self, sequence: i64) {
        let mut position = self.cache_position.subscribe();
        let _ = position.wait_for(|seen| *seen >= sequence).await;
    }

    /// Invalidates cached users changed by other replicas (their outbox rows)
    /// when woken by a commit (on PostgreSQL other replicas' commits wake it
    /// too: [`UserStore::wake_on_remote_commits`]) and at least every
    /// `poll_interval`, until the returned task is aborted. A replica therefore
    /// serves another replica's change about a round trip late on PostgreSQL,
    /// and at most `poll_interval` late while the notifications are not heard
    /// (and on SQLite); its own changes it serves at once.
    pub async fn follow_remote_changes(
        &self,
        poll_interval: std::time::Duration,
    ) -> Result<tokio::task::AbortHandle, Error> {
        let seen = self.last_event_sequence().await?;
        self.cache_position.send_replace(seen);
        let store = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                // Registered before reading, so a commit during the read
                // wakes the next round.
                let woken = store.committed.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let seen = *store.cache_position.borrow();
                match store.changed_users_after(seen, CHANGES_PER_POLL).await {
                    Ok(changes) => store.reflect(seen, changes),
                    Err(err) => {
                        // Not knowing what changed, forget everything.
                        tracing::warn!(error = %err, "reading user changes failed");
                        store.forget_cached();
                    }
                }
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep(poll_interval) => {}
                }
            }
        })
        .abort_handle())
    }

    /// Wakes this replica's event streams and cache follower whenever any
    /// replica commits a user change (PostgreSQL; see `roster_kit::wake`),
    /// until the returned task is dropped.
    pub fn wake_on_remote_commits(&self) -> events::BackgroundTask {
        roster_kit::wake::on_remote_commits(&self.db, OUTBOX_LOCK_KEY, self.committed.clone())
    }

    /// Where a reader starting now begins: no event after it has committed
    /// yet, nor will one numbered before it.
    async fn last_event_sequence(&self) -> Result<i64, Error> {
        Ok(outbox::newest_settled(&self.db, user_event::Entity.table_name()).await?)
    }

    async fn changed_users_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, i64)>, Error> {
        let read = || {
            user_event::Entity::find()
                .select_only()
                .column(user_event::Column::Seq)
                .column(user_event::Column::UserId)
                .filter(user_event::Column::Seq.gt(after))
                .order_by_asc(user_event::Column::Seq)
                .limit(limit)
                .into_tuple::<(i64, i64)>()
                .all(&self.db)
        };
        Ok(outbox::read_in_order(
            &self.db,
            user_event::Entity.table_name(),
            after,
            |(seq, _)| *seq,
            read,
        )
        .await?)
    }

    /// Appends the event of `kind` about `user`; returns its sequence number.
    pub(super) async fn append_event(
        &self,
        txn: &DatabaseTransaction,
        kind: UserEventKind,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<i64, Error> {
        db::before_append(txn).await?;
        let origin = origin::current("users");
        // Only the sequence number comes back, not the payload just sent.
        let inserted = user_event::Entity::insert(self.event_row(kind, user, &origin, now)?)
            .exec(txn)
            .await?;
        Ok(inserted.last_insert_id)
    }

    /// The outbox row of `kind` about `user`, made by `origin`.
    pub(super) fn event_row(
        &self,
        kind: UserEventKind,
        user: &User,
        origin: &origin::Origin,
        now: DateTime<Utc>,
    ) -> Result<user_event::ActiveModel, Error> {
        Ok(user_event::ActiveModel {
            seq: NotSet,
            user_id: Set(user.id),
            kind: Set(kind.code()),
            payload: Set(serde_json::to_string(user).map_err(Error::internal)?),
            occurred_at: Set(now),
            actor: Set(origin::column(&origin.actor)),
            request_id: Set(origin::column(&origin.request_id)),
            trace_id: Set(origin::column(&origin.trace_id)),
            reason: Set(origin::column(&origin.reason)),
        })
    }
}

#[async_trait]
impl UserEventLog for UserStore {
    fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    async fn newest_event_sequence(&self) -> Result<i64, Error> {
        self.last_event_sequence().await
    }

    fn presence_feed(&self) -> Arc<crate::domain::PresenceFeed> {
        self.presence.clone()
    }

    /// Streams call it before delivering, so a consumer that reacts to an event
    /// by reading the user from this replica reads the change; the events
    /// returned are durable. OUT_OF_RANGE / CURSOR_EXPIRED when the events right
    /// after `after` were pruned.
    async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<UserEvent>, Error> {
        let read = || {
            user_event::Entity::find()
                .filter(user_event::Column::Seq.gt(after))
                .order_by_asc(user_event::Column::Seq)
                .limit(limit)
                .all(&self.db)
        };
        let events = outbox::read_in_order(
            &self.db,
            user_event::Entity.table_name(),
            after,
            |row| row.seq,
            read,
        )
        .await?
        .into_iter()
        .map(mapping::event_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        if events.first().is_some_and(|e| e.sequence > after + 1) {
            let oldest =
                db::oldest_seq::<user_event::Entity>(&self.db, user_event::Column::Seq).await?;
            events::ensure_kept(after, oldest)?;
        }
        let events = self.durability.hand_on(events).await?;
        self.reflect(after, events.iter().map(|e| (e.sequence, e.user.id)));
        Ok(events)
    }
}

#[async_trait]
impl PrunableLog for UserStore {
    async fn prune(&self, retention: Retention, now: DateTime<Utc>) -> Result<u64, Error> {
        Ok(db::prune_log::<user_event::Entity>(
            &self.db,
            user_event::Column::Seq,
            user_event::Column::OccurredAt.gte(retention.cutoff(now)),
            retention.min_events,
        )
        .await?)
    }
}
