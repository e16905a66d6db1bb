//! Bans: one row per user, the current ban or the last one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::Result;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{
    Store, append_event, deletion_guard::refuse_if_deleting, entity::ban, insert_audit, ms,
    opt_time, time,
};
use crate::domain::{
    audit::AuditRecord,
    bans::{Ban, BanChange, BanFilter, BanQuery, NewBan, Unbanned},
    events::ModerationEvent,
    ports::BanRepository,
};

fn ban_from_row(row: ban::Model) -> Result<Ban> {
    Ok(Ban {
        user_id: row.user_id,
        reason: row.reason,
        banned_by: row.banned_by,
        banned_at: time(row.banned_at_ms)?,
        updated_at: time(row.updated_at_ms)?,
        expires_at: opt_time(row.expires_at_ms)?,
        lifted_at: opt_time(row.lifted_at_ms)?,
        lifted_by: row.lifted_by,
        lift_reason: row.lift_reason,
    })
}

/// Rows matching `filter` at `now` (the SQL of `BanFilter::matches`).
fn filter_condition(filter: BanFilter, now: DateTime<Utc>) -> Condition {
    let now = ms(now);
    let not_lifted = ban::Column::LiftedAtMs.is_null();
    match filter {
        BanFilter::All => Condition::all(),
        BanFilter::Lifted => Condition::all().add(ban::Column::LiftedAtMs.is_not_null()),
        BanFilter::Expired => Condition::all()
            .add(not_lifted)
            .add(ban::Column::ExpiresAtMs.lte(now)),
        BanFilter::Active => Condition::all().add(not_lifted).add(
            Condition::any()
                .add(ban::Column::ExpiresAtMs.is_null())
                .add(ban::Column::ExpiresAtMs.gt(now)),
        ),
    }
}

#[async_trait]
impl BanRepository for Store {
    async fn upsert_ban(
        &self,
        new: NewBan,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<BanChange> {
        let txn = self.begin_write().await?;
        refuse_if_deleting(&txn, new.user_id).await?;
        let existing = ban::Entity::find_by_id(new.user_id).one(&txn).await?;
        let current = existing
            .clone()
            .map(ban_from_row)
            .transpose()?
            .filter(|ban| ban.is_active_at(now));
        let (row, created) = match (existing, current) {
            // An active ban: new reason and expiry, same ban.
            (Some(row), Some(_)) => {
                let mut change: ban::ActiveModel = row.into();
                change.reason = Set(new.reason.clone());
                change.expires_at_ms = Set(new.expires_at.map(ms));
                change.updated_at_ms = Set(ms(now));
                (change.update(&txn).await?, false)
            }
            // A new ban, in place of an expired or lifted one or of none.
            (existing, _) => {
                let row = ban::ActiveModel {
                    user_id: Set(new.user_id),
                    reason: Set(new.reason.clone()),
                    banned_by: Set(new.banned_by.clone()),
                    banned_at_ms: Set(ms(now)),
                    updated_at_ms: Set(ms(now)),
                    expires_at_ms: Set(new.expires_at.map(ms)),
                    lifted_at_ms: Set(None),
                    lifted_by: Set(None),
                    lift_reason: Set(None),
                };
                let row = if existing.is_some() {
                    row.update(&txn).await?
                } else {
                    row.insert(&txn).await?
                };
                (row, true)
            }
        };
        let ban = ban_from_row(row)?;
        let event = ModerationEvent::UserBanned { ban: ban.clone() };
        let event_seq = append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit.detail("created", created), now).await?;
        self.commit(txn, true).await?;
        Ok(BanChange {
            ban,
            created,
            event_seq,
        })
    }

    async fn lift_ban(
        &self,
        user_id: i64,
        lifted_by: &str,
        reason: &str,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Unbanned>> {
        let txn = self.begin_write().await?;
        let Some(row) = ban::Entity::find_by_id(user_id).one(&txn).await? else {
            return Ok(None);
        };
        if !ban_from_row(row.clone())?.is_active_at(now) {
            return Ok(None);
        }
        let mut change: ban::ActiveModel = row.into();
        change.lifted_at_ms = Set(Some(ms(now)));
        change.lifted_by = Set(Some(lifted_by.to_owned()));
        change.lift_reason = Set(Some(reason.to_owned()));
        change.updated_at_ms = Set(ms(now));
        let ban = ban_from_row(change.update(&txn).await?)?;
        let event = ModerationEvent::UserUnbanned { ban: ban.clone() };
        let event_seq = append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit, now).await?;
        self.commit(txn, true).await?;
        Ok(Some(Unbanned { ban, event_seq }))
    }

    async fn get_ban(&self, user_id: i64) -> Result<Option<Ban>> {
        ban::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
            .map(ban_from_row)
            .transpose()
    }

    async fn list_bans(&self, query: &BanQuery, now: DateTime<Utc>) -> Result<Vec<Ban>> {
        let mut select = ban::Entity::find()
            .filter(filter_condition(query.filter, now))
            .order_by_desc(ban::Column::BannedAtMs)
            .order_by_desc(ban::Column::UserId)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(
                Condition::any()
                    .add(ban::Column::BannedAtMs.lt(after.banned_at_ms))
                    .add(
                        Condition::all()
                            .add(ban::Column::BannedAtMs.eq(after.banned_at_ms))
                            .add(ban::Column::UserId.lt(after.user_id)),
                    ),
            );
        }
        select
            .all(&self.db)
            .await?
            .into_iter()
            .map(ban_from_row)
            .collect()
    }
}
