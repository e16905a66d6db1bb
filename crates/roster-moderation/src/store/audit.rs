//! The audit log, and the positions of other services' event streams it is fed
//! from.

use std::collections::BTreeMap;

use async_trait::async_trait;
use roster_kit::Result;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{
    Store, audit_row, corrupt,
    entity::{audit, stream_position},
    ms, time,
};
use crate::domain::{
    audit::{AuditAction, AuditEntry, AuditQuery, AuditRecord, ExternalAction},
    ports::AuditRepository,
};

/// Audit rows per multi-row insert: eight bound values each, well under both
/// backends' limit on parameters per statement.
const AUDIT_ROWS_PER_INSERT: usize = 1000;

fn entry_from_row(row: audit::Model) -> Result<AuditEntry> {
    let what = || format!("audit entry {}", row.id);
    let details: BTreeMap<String, String> =
        serde_json::from_str(&row.details).map_err(|_| corrupt(what()))?;
    Ok(AuditEntry {
        id: row.id,
        occurred_at: time(row.occurred_at_ms)?,
        record: AuditRecord {
            action: AuditAction::parse(&row.action).ok_or_else(|| corrupt(what()))?,
            actor: row.actor,
            target_user_id: row.target_user_id,
            reason: row.reason,
            request_id: row.request_id,
            details,
        },
    })
}

#[async_trait]
impl AuditRepository for Store {
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut select = audit::Entity::find()
            .order_by_desc(audit::Column::OccurredAtMs)
            .order_by_desc(audit::Column::Id)
            .limit(query.limit + 1);
        if let Some(target) = query.target_user_id {
            select = select.filter(audit::Column::TargetUserId.eq(target));
        }
        if let Some(actor) = &query.actor {
            select = select.filter(audit::Column::Actor.eq(actor.as_str()));
        }
        if let Some(action) = query.action {
            select = select.filter(audit::Column::Action.eq(action.as_str()));
        }
        if let Some(start) = query.start {
            select = select.filter(audit::Column::OccurredAtMs.gte(ms(start)));
        }
        if let Some(end) = query.end {
            select = select.filter(audit::Column::OccurredAtMs.lt(ms(end)));
        }
        if let Some(after) = query.after {
            select = select.filter(
                Condition::any()
                    .add(audit::Column::OccurredAtMs.lt(after.occurred_at_ms))
                    .add(
                        Condition::all()
                            .add(audit::Column::OccurredAtMs.eq(after.occurred_at_ms))
                            .add(audit::Column::Id.lt(after.id)),
                    ),
            );
        }
        select
            .all(&self.db)
            .await?
            .into_iter()
            .map(entry_from_row)
            .collect()
    }

    async fn record_external_actions(
        &self,
        stream: &str,
        through: i64,
        actions: Vec<ExternalAction>,
    ) -> Result<usize> {
        // No event is appended, so the outbox's turn is not taken: replicas
        // recording the same stream take turns on its position row instead.
        let txn = roster_kit::db::begin_write(&self.db).await?;
        let stored = stream_position::Entity::find_by_id(stream.to_owned())
            .lock_exclusive()
            .one(&txn)
            .await?;
        let consumed = stored.as_ref().map_or(0, |row| row.position);
        if through <= consumed {
            return Ok(0);
        }
        let position = stream_position::ActiveModel {
            stream: Set(stream.to_owned()),
            position: Set(through),
        };
        if stored.is_some() {
            position.update(&txn).await?;
        } else {
            // Should another replica insert it first, this fails and the
            // follower resumes from the position that replica stored.
            position.insert(&txn).await?;
        }
        let rows = actions
            .iter()
            .filter(|action| action.position > consumed)
            .map(|action| audit_row(&action.record, action.at))
            .collect::<Result<Vec<_>>>()?;
        let recorded = rows.len();
        for chunk in rows.chunks(AUDIT_ROWS_PER_INSERT) {
            audit::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(recorded)
    }

    async fn stream_position(&self, stream: &str) -> Result<i64> {
        Ok(stream_position::Entity::find_by_id(stream.to_owned())
            .one(&self.db)
            .await?
            .map_or(0, |row| row.position))
    }
}
