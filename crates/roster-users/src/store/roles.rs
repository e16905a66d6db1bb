//! Users' network roles, projected from the role service's events: each event
//! applied once, however many replicas follow the stream.

use async_trait::async_trait;
use roster_kit::{Error, db};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    UserStore,
    entity::{user, user_role_sync},
    mapping,
};
use crate::domain::{RoleChange, ports::RoleProjection};

/// The single row of `user_role_sync`.
const ROLE_SYNC_ROW: i16 = 1;

#[async_trait]
impl RoleProjection for UserStore {
    async fn role_sync_position(&self) -> Result<i64, Error> {
        Ok(user_role_sync::Entity::find_by_id(ROLE_SYNC_ROW)
            .one(&self.db)
            .await?
            .map_or(0, |row| row.last_sequence))
    }

    async fn pass_role_events(&self, sequence: i64) -> Result<(), Error> {
        claim(&self.db, sequence).await.map(drop)
    }

    async fn apply_role_event(
        &self,
        sequence: i64,
        user_id: i64,
        change: Option<&RoleChange>,
    ) -> Result<bool, Error> {
        let txn = db::begin_write(&self.db).await?;
        if !claim(&txn, sequence).await? {
            // Another replica applied it; what this replica cached is stale now.
            self.cache.invalidate(&user_id);
            return Ok(false);
        }
        if let Some(change) = change
            && let Some(row) = user::Entity::find_by_id(user_id).one(&txn).await?
        {
            let mut user = mapping::user_from_row(row)?;
            change.apply(&mut user.network_roles);
            user::Entity::update_many()
                .col_expr(
                    user::Column::NetworkRoles,
                    Expr::value(
                        serde_json::to_string(&user.network_roles).map_err(Error::internal)?,
                    ),
                )
                .filter(user::Column::Id.eq(user_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.cache.invalidate(&user_id);
        Ok(true)
    }
}

/// Moves the position to `sequence` unless it is there or past it already;
/// whether it moved (this caller, not another replica, applies what lies
/// between).
async fn claim(db: &impl ConnectionTrait, sequence: i64) -> Result<bool, Error> {
    let moved = user_role_sync::Entity::update_many()
        .col_expr(user_role_sync::Column::LastSequence, Expr::value(sequence))
        .filter(user_role_sync::Column::Id.eq(ROLE_SYNC_ROW))
        .filter(user_role_sync::Column::LastSequence.lt(sequence))
        .exec(db)
        .await?;
    Ok(moved.rows_affected > 0)
}
