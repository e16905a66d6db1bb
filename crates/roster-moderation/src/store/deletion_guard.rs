//! The one rule flags and bans share with deletion: nothing new is written
//! about a user once a deletion job exists for it. Kept apart from the deletion
//! jobs' storage so that flags and bans (which the deletion steps remove) do not
//! import from it.

use roster_kit::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::entity::deletion_job;

/// Refuses (USER_DELETED) a flag or ban on a user with a deletion job, inside
/// the change's write transaction: a job created before it commits is seen, and
/// one created after it removes what it wrote.
pub(super) async fn refuse_if_deleting(db: &impl ConnectionTrait, user_id: i64) -> Result<()> {
    let jobs = deletion_job::Entity::find()
        .filter(deletion_job::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    if jobs > 0 {
        Err(crate::domain::user_deleted(user_id))
    } else {
        Ok(())
    }
}
