//! The audit log, and the positions of other services' event streams it is fed
//! from.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::Result;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, sea_query::Expr,
};

use super::{
    Store, corrupt,
    entity::{audit, stream_position},
    insert_audit, ms, time,
};
use crate::domain::{
    audit::{AuditAction, AuditEntry, AuditQuery, AuditRecord},
    ports::AuditRepository,
};

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

    async fn record_external_action(
        &self,
        stream: &str,
        position: i64,
        record: AuditRecord,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        // No event is appended, so the outbox's turn is not taken: the
        // position row orders replicas recording the same stream (a second
        // one waits for the row, then finds the position already there).
        let txn = roster_kit::db::begin_write(&self.db).await?;
        let advanced = stream_position::Entity::update_many()
            .col_expr(stream_position::Column::Position, Expr::value(position))
            .filter(stream_position::Column::Stream.eq(stream))
            .filter(stream_position::Column::Position.lt(position))
            .exec(&txn)
            .await?
            .rows_affected;
        if advanced == 0 {
            let recorded = stream_position::Entity::find_by_id(stream.to_owned())
                .one(&txn)
                .await?;
            if recorded.is_some() {
                return Ok(false);
            }
            let first = stream_position::ActiveModel {
                stream: Set(stream.to_owned()),
                position: Set(position),
            };
            match first.insert(&txn).await {
                Ok(_) => {}
                // Another replica recorded this stream's first change.
                Err(err) if roster_kit::db::is_unique_violation(&err) => return Ok(false),
                Err(err) => return Err(err.into()),
            }
        }
        insert_audit(&txn, &record, at).await?;
        txn.commit().await?;
        Ok(true)
    }

    async fn stream_position(&self, stream: &str) -> Result<i64> {
        Ok(stream_position::Entity::find_by_id(stream.to_owned())
            .one(&self.db)
            .await?
            .map_or(0, |row| row.position))
    }
}
