//! Flags. Each change recounts the target's flags inside its write transaction,
//! so the count its event carries is the count at commit.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{
    Store, append_event, append_events, corrupt, deletion_guard::refuse_if_deleting, entity::flag,
    insert_audit, ms, time,
};
use crate::domain::{
    audit::AuditRecord,
    events::ModerationEvent,
    flags::{Cleared, Flag, FlagChange, FlagReason, FlagTally, FlagsQuery, NewFlag, Unflagged},
    ports::FlagRepository,
};

pub(super) fn flag_from_row(row: flag::Model) -> Result<Flag> {
    Ok(Flag {
        id: row.id,
        user_id: row.target_user_id,
        reason: FlagReason::parse(&row.reason)
            .ok_or_else(|| corrupt(format_args!("reason of flag {}", row.id)))?,
        flagger: row.flagger,
        flagger_user_id: row.flagger_user_id,
        note: row.note,
        created_at: time(row.created_at_ms)?,
        updated_at: time(row.updated_at_ms)?,
    })
}

pub(super) async fn count_against(db: &impl ConnectionTrait, user_id: i64) -> Result<i64> {
    let count = flag::Entity::find()
        .filter(flag::Column::TargetUserId.eq(user_id))
        .count(db)
        .await?;
    i64::try_from(count).map_err(Error::internal)
}

async fn find_flag(
    txn: &DatabaseTransaction,
    user_id: i64,
    flagger: &str,
) -> Result<Option<flag::Model>> {
    Ok(flag::Entity::find()
        .filter(flag::Column::TargetUserId.eq(user_id))
        .filter(flag::Column::Flagger.eq(flagger))
        .one(txn)
        .await?)
}

#[async_trait]
impl FlagRepository for Store {
    async fn upsert_flag(
        &self,
        new: NewFlag,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<FlagChange> {
        let txn = self.begin_write().await?;
        refuse_if_deleting(&txn, new.user_id).await?;
        let (row, created) = match find_flag(&txn, new.user_id, &new.flagger).await? {
            Some(row) => {
                let mut change: flag::ActiveModel = row.into();
                change.reason = Set(new.reason.as_str().to_owned());
                change.note = Set(new.note.clone());
                change.updated_at_ms = Set(ms(now));
                (change.update(&txn).await?, false)
            }
            None => {
                // No concurrent insert can win the race: writers hold the write lock.
                let row = flag::ActiveModel {
                    id: NotSet,
                    target_user_id: Set(new.user_id),
                    flagger: Set(new.flagger.clone()),
                    flagger_user_id: Set(new.flagger_user_id),
                    reason: Set(new.reason.as_str().to_owned()),
                    note: Set(new.note.clone()),
                    created_at_ms: Set(ms(now)),
                    updated_at_ms: Set(ms(now)),
                }
                .insert(&txn)
                .await?;
                (row, true)
            }
        };
        let flag_count = count_against(&txn, new.user_id).await?;
        let flag = flag_from_row(row)?;
        let event = ModerationEvent::UserFlagged {
            flag: flag.clone(),
            flag_count,
        };
        let event_seq = append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit.detail("created", created), now).await?;
        self.commit(txn, true).await?;
        Ok(FlagChange {
            flag,
            created,
            flag_count,
            event_seq,
        })
    }

    async fn remove_flag(
        &self,
        user_id: i64,
        flagger: &str,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Unflagged>> {
        let txn = self.begin_write().await?;
        let Some(row) = find_flag(&txn, user_id, flagger).await? else {
            return Ok(None);
        };
        flag::Entity::delete_by_id(row.id).exec(&txn).await?;
        let flag_count = count_against(&txn, user_id).await?;
        let flag = flag_from_row(row)?;
        let event = ModerationEvent::UserUnflagged {
            flag: flag.clone(),
            flag_count,
        };
        let event_seq = append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit, now).await?;
        self.commit(txn, true).await?;
        Ok(Some(Unflagged {
            flag,
            flag_count,
            event_seq,
        }))
    }

    async fn clear_flags(
        &self,
        user_id: i64,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Cleared> {
        let txn = self.begin_write().await?;
        let removed = flag::Entity::delete_many()
            .filter(flag::Column::TargetUserId.eq(user_id))
            .exec(&txn)
            .await?
            .rows_affected;
        let removed = i64::try_from(removed).map_err(Error::internal)?;
        if removed == 0 {
            return Ok(Cleared {
                removed,
                event_seq: None,
            });
        }
        let event = ModerationEvent::FlagsCleared { user_id, removed };
        let event_seq = append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit.detail("removed_count", removed), now).await?;
        self.commit(txn, true).await?;
        Ok(Cleared {
            removed,
            event_seq: Some(event_seq),
        })
    }

    async fn flagged_by(&self, flagger: &str, user_ids: &[i64]) -> Result<BTreeSet<i64>> {
        if user_ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let targets: Vec<i64> = flag::Entity::find()
            .select_only()
            .column(flag::Column::TargetUserId)
            .filter(flag::Column::Flagger.eq(flagger))
            .filter(flag::Column::TargetUserId.is_in(user_ids.iter().copied()))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(targets.into_iter().collect())
    }

    async fn flag_count(&self, user_id: i64) -> Result<i64> {
        count_against(&self.db, user_id).await
    }

    async fn list_flags(&self, query: &FlagsQuery) -> Result<Vec<Flag>> {
        let mut select = flag::Entity::find()
            .filter(flag::Column::TargetUserId.eq(query.user_id))
            .order_by_desc(flag::Column::CreatedAtMs)
            .order_by_desc(flag::Column::Id)
            .limit(query.limit + 1);
        if let Some(after) = query.after {
            select = select.filter(
                Condition::any()
                    .add(flag::Column::CreatedAtMs.lt(after.created_at_ms))
                    .add(
                        Condition::all()
                            .add(flag::Column::CreatedAtMs.eq(after.created_at_ms))
                            .add(flag::Column::Id.lt(after.id)),
                    ),
            );
        }
        select
            .all(&self.db)
            .await?
            .into_iter()
            .map(flag_from_row)
            .collect()
    }

    async fn flag_tally(&self, user_id: i64) -> Result<FlagTally> {
        let by_user = flag::Entity::find()
            .filter(flag::Column::FlaggerUserId.eq(user_id))
            .count(&self.db)
            .await?;
        Ok(FlagTally {
            by_user: i64::try_from(by_user).map_err(Error::internal)?,
            against_user: count_against(&self.db, user_id).await?,
        })
    }
}

/// The REMOVE_FLAGS step's removal inside `txn`: the flags `user_id` raised
/// (one USER_UNFLAGGED each, with the target's new count) and the flags against
/// it (one FLAGS_CLEARED). Returns (raised by, raised against) removed.
pub(super) async fn remove_flags_of(
    txn: &DatabaseTransaction,
    user_id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(i64, i64)> {
    let raised = flag::Entity::find()
        .filter(flag::Column::FlaggerUserId.eq(user_id))
        .order_by_asc(flag::Column::Id)
        .all(txn)
        .await?;
    let by_user = i64::try_from(raised.len()).map_err(Error::internal)?;
    if !raised.is_empty() {
        flag::Entity::delete_many()
            .filter(flag::Column::FlaggerUserId.eq(user_id))
            .exec(txn)
            .await?;
        let events = unflagged_in_order(txn, raised).await?;
        append_events(txn, actor, events, now).await?;
    }
    let against = flag::Entity::delete_many()
        .filter(flag::Column::TargetUserId.eq(user_id))
        .exec(txn)
        .await?
        .rows_affected;
    let against = i64::try_from(against).map_err(Error::internal)?;
    if against > 0 {
        let event = ModerationEvent::FlagsCleared {
            user_id,
            removed: against,
        };
        append_event(txn, actor, event, now).await?;
    }
    Ok((by_user, against))
}

/// The UNFLAGGED events of `removed` (deleted already, in id order), each
/// carrying its target's count as if the flags had been removed one by one
/// in that order: what is left now plus the removed flags after it. Counted
/// in a few grouped queries, not one per flag.
async fn unflagged_in_order(
    txn: &DatabaseTransaction,
    removed: Vec<flag::Model>,
) -> Result<Vec<ModerationEvent>> {
    let mut after: HashMap<i64, i64> = HashMap::new();
    for row in &removed {
        *after.entry(row.target_user_id).or_default() += 1;
    }
    let targets: Vec<i64> = after.keys().copied().collect();
    let left = counts_against(txn, &targets).await?;
    removed
        .into_iter()
        .map(|row| {
            let later = after.entry(row.target_user_id).or_default();
            *later -= 1;
            let flag_count = left.get(&row.target_user_id).copied().unwrap_or(0) + *later;
            Ok(ModerationEvent::UserUnflagged {
                flag: flag_from_row(row)?,
                flag_count,
            })
        })
        .collect()
}

/// The flags against each of `targets` (those with none are absent).
async fn counts_against(db: &impl ConnectionTrait, targets: &[i64]) -> Result<HashMap<i64, i64>> {
    // Well under SQLite's bound on parameters in one statement.
    const TARGETS_PER_QUERY: usize = 1000;
    let mut counts = HashMap::with_capacity(targets.len());
    for chunk in targets.chunks(TARGETS_PER_QUERY) {
        let rows: Vec<(i64, i64)> = flag::Entity::find()
            .select_only()
            .column(flag::Column::TargetUserId)
            .column_as(flag::Column::Id.count(), "count")
            .filter(flag::Column::TargetUserId.is_in(chunk.iter().copied()))
            .group_by(flag::Column::TargetUserId)
            .into_tuple()
            .all(db)
            .await?;
        counts.extend(rows);
    }
    Ok(counts)
}
