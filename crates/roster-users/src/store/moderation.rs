//! Users' moderation state (ban, flag count), projected from the moderation
//! service's events: each event applied once, however many replicas follow the
//! stream, and recorded as a user event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, db};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    UserStore,
    entity::{user, user_moderation_sync},
    users::update_returning,
};
use crate::domain::{ModerationChange, UserEventKind, ports::ModerationProjection};

/// The single row of `user_moderation_sync`.
const MODERATION_SYNC_ROW: i16 = 1;

#[async_trait]
impl ModerationProjection for UserStore {
    async fn moderation_sync_position(&self) -> Result<i64, Error> {
        Ok(
            user_moderation_sync::Entity::find_by_id(MODERATION_SYNC_ROW)
                .one(&self.db)
                .await?
                .map_or(0, |row| row.last_sequence),
        )
    }

    async fn apply_moderation_event(
        &self,
        sequence: i64,
        user_id: i64,
        change: Option<&ModerationChange>,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let txn = db::begin_write(&self.db).await?;
        let claimed = user_moderation_sync::Entity::update_many()
            .col_expr(
                user_moderation_sync::Column::LastSequence,
                Expr::value(sequence),
            )
            .filter(user_moderation_sync::Column::Id.eq(MODERATION_SYNC_ROW))
            .filter(user_moderation_sync::Column::LastSequence.lt(sequence))
            .exec(&txn)
            .await?;
        if claimed.rows_affected == 0 {
            // Another replica applied it; what this replica cached may be stale.
            self.cache.invalidate(&user_id);
            return Ok(false);
        }
        let Some(change) = change else {
            txn.commit().await?;
            return Ok(true);
        };
        let (update, kind) = match change {
            ModerationChange::Banned { until_ms } => (
                user::Entity::update_many()
                    .col_expr(user::Column::IsGlobalBanned, Expr::value(true))
                    .col_expr(user::Column::BanExpiresAtMs, Expr::value(*until_ms)),
                UserEventKind::Banned,
            ),
            ModerationChange::Unbanned => (
                user::Entity::update_many()
                    .col_expr(user::Column::IsGlobalBanned, Expr::value(false))
                    .col_expr(
                        user::Column::BanExpiresAtMs,
                        Expr::value(Option::<i64>::None),
                    ),
                UserEventKind::Unbanned,
            ),
            ModerationChange::FlagCount(count) => (
                user::Entity::update_many()
                    .col_expr(user::Column::FlagCount, Expr::value((*count).max(0))),
                UserEventKind::FlagCountChanged,
            ),
        };
        let update = update.filter(user::Column::Id.eq(user_id));
        let Some(row) = update_returning(&txn, update, user_id).await? else {
            // A user this service never had (or no longer has): nothing to show.
            txn.commit().await?;
            return Ok(true);
        };
        self.finish_change(txn, row, kind, now).await?;
        Ok(true)
    }
}
