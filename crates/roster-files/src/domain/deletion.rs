//! Deleting files: one (by its owner, or by a moderator of its owner), or every
//! file of a user (the deletion cascade). Objects go first, then the rows, so
//! a failure part-way leaves rows that a retry deletes, never an orphan object.

use roster_kit::{Actor, Error, Result};

use super::{
    Files, access,
    ports::ListQuery,
    types::{FileId, FileRecord, ObjectKey},
};

/// Catalogue names of the permissions this service asks for.
const EDIT_USER: &str = "EDIT_USER";
const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";

/// Files deleted per round of the cascade: one listing, one batch of object
/// deletions, one row deletion.
const CASCADE_BATCH: u64 = 200;

/// What the deletion cascade is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFilesDeletion {
    pub user_id: i64,
    /// Count what would be deleted; change nothing.
    pub dry_run: bool,
}

impl UserFilesDeletion {
    /// `user_id` must name a user (> 0).
    pub fn parse(user_id: i64, dry_run: bool, field: &str) -> Result<Self> {
        if user_id <= 0 {
            return Err(Error::invalid_field(field, "is required"));
        }
        Ok(Self { user_id, dry_run })
    }
}

impl Files {
    /// Deletes a file the caller may delete.
    #[tracing::instrument(skip_all, fields(file_id = %id, actor = %actor))]
    pub async fn delete(&self, actor: &Actor, id: &FileId) -> Result<()> {
        let record = self.find(id).await?;
        if !access::owns_or_privileged(actor, record.owner_user_id) {
            self.require_moderation_of(actor, record.owner_user_id)
                .await?;
        }
        self.remove(std::slice::from_ref(&record)).await?;
        Ok(())
    }

    /// Deleting another user's file edits that user: it needs EDIT_USER, and an
    /// owner exempt from moderation can be edited only by a caller exempt too.
    async fn require_moderation_of(&self, actor: &Actor, owner: i64) -> Result<()> {
        let Actor::User { user_id, .. } = actor else {
            return Ok(());
        };
        let holds = |permission: &'static str| async move {
            if self.permissions.holds(*user_id, permission).await? {
                Ok(())
            } else {
                Err(Error::permission_denied(format!(
                    "permission {permission} is required in the network scope"
                )))
            }
        };
        holds(EDIT_USER).await?;
        if self
            .permissions
            .holds(owner, EXEMPT_FROM_MODERATION)
            .await?
        {
            holds(EXEMPT_FROM_MODERATION).await?;
        }
        Ok(())
    }

    /// Every object of `records`, then their rows; returns how many rows this
    /// call deleted.
    async fn remove(&self, records: &[FileRecord]) -> Result<u64> {
        let keys: Vec<ObjectKey> = records.iter().flat_map(FileRecord::object_keys).collect();
        self.objects.delete(&keys).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        self.repo.delete(&ids).await
    }

    /// Deletes every file of a user, or with `dry_run` counts them; returns how
    /// many this call deleted (or would delete).
    #[tracing::instrument(skip_all, fields(actor = %actor, user_id = request.user_id, dry_run = request.dry_run))]
    pub async fn delete_user_files(
        &self,
        actor: &Actor,
        request: UserFilesDeletion,
    ) -> Result<u64> {
        access::require_privileged(actor)?;
        if request.dry_run {
            return self.repo.count_owned(request.user_id).await;
        }
        let mut deleted = 0;
        loop {
            let page = self
                .repo
                .list(&ListQuery {
                    owner_user_id: request.user_id,
                    purpose: None,
                    visibility: None,
                    before: None,
                    limit: CASCADE_BATCH,
                })
                .await?;
            if page.files.is_empty() {
                return Ok(deleted);
            }
            let records: Vec<FileRecord> = page.files.into_iter().map(|(_, r)| r).collect();
            deleted += self.remove(&records).await?;
        }
    }
}
