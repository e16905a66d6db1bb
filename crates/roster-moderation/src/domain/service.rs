//! [`Moderation`]: the domain object the transport calls. Its operations live
//! with their capability (`flags`, `bans`, `deletion`, `audit`); this module
//! holds what they share: the repository, the peers, the clock and the checks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_kit::{Error, Result, error::ErrorKind};
use tokio::sync::Notify;

use super::{
    Caller, Clock, access,
    ports::{ModerationRepository, Peers, UserSummary},
    reasons,
};

/// The moderation service's domain. Cheap to share behind an `Arc`.
pub struct Moderation {
    pub(super) repo: Arc<dyn ModerationRepository>,
    pub(super) peers: Peers,
    pub(super) clock: Arc<dyn Clock>,
    /// Wakes the deletion runner of this process when a job is created.
    pub(super) runner_wake: Arc<Notify>,
}

impl Moderation {
    pub fn new(repo: Arc<dyn ModerationRepository>, peers: Peers, clock: Arc<dyn Clock>) -> Self {
        Self {
            repo,
            peers,
            clock,
            runner_wake: Arc::new(Notify::new()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn repository(&self) -> &Arc<dyn ModerationRepository> {
        &self.repo
    }

    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Notified whenever this process creates a deletion job; give it to the
    /// [`DeletionRunner`](super::deletion::DeletionRunner) so it starts at once.
    pub fn runner_wake(&self) -> Arc<Notify> {
        self.runner_wake.clone()
    }

    /// Ok when the caller may use `permission` (network-wide).
    pub(super) async fn require(&self, caller: &Caller, permission: &str) -> Result<()> {
        let held = match access::user_to_check(&caller.actor) {
            Some(user_id) => self.peers.roles.holds(user_id, permission).await?,
            None => true,
        };
        access::permitted(&caller.actor, permission, held)
    }

    /// The user, which must exist (NOT_FOUND / USER_NOT_FOUND).
    pub(super) async fn existing_user(&self, user_id: i64) -> Result<UserSummary> {
        self.peers
            .users
            .find_user(user_id)
            .await?
            .ok_or_else(|| user_not_found(user_id))
    }

    /// The user must exist and be neither deleted nor being deleted
    /// (FAILED_PRECONDITION / USER_DELETED): what flags and bans need.
    pub(super) async fn require_live_user(&self, user_id: i64) -> Result<()> {
        let user = self.existing_user(user_id).await?;
        if user.is_deleted || self.repo.deletion_job_of_user(user_id).await?.is_some() {
            return Err(user_deleted(user_id));
        }
        Ok(())
    }
}

/// FAILED_PRECONDITION / USER_DELETED: a flag or ban on a user who is deleted
/// or being deleted.
pub fn user_deleted(user_id: i64) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::USER_DELETED,
        format!("user {user_id} is deleted or being deleted"),
    )
}

pub(super) fn user_not_found(user_id: i64) -> Error {
    Error::not_found(
        reasons::USER_NOT_FOUND,
        format!("no user with id {user_id}"),
    )
}
