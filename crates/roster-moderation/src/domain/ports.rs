//! What the domain needs from outside: its repository (implemented by `store`)
//! and the other services (implemented over gRPC by the peers; in-memory fakes
//! in the tests). Every trait is object-safe and `Send + Sync`.

use std::{collections::BTreeSet, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::Result;
use tokio::sync::Notify;

use super::{
    Clock,
    audit::{AuditEntry, AuditQuery, AuditRecord, ExternalAction},
    bans::{Ban, BanChange, BanQuery, NewBan, Unbanned},
    deletion::{
        Counts, DeletionJob, DeletionOptions, DeletionStep, JobQuery, Lease, NewDeletionJob,
        StepOutcome,
    },
    events::StoredEvent,
    flags::{Cleared, Flag, FlagChange, FlagTally, FlagsQuery, NewFlag, Unflagged},
};

/// The moderation service's own tables, one trait per capability (the store
/// implements each in its own module). Every method that changes something
/// writes the change, its audit entry and its event(s) in one transaction.
pub trait ModerationRepository:
    FlagRepository + BanRepository + DeletionRepository + AuditRepository + EventRepository
{
}

impl<T> ModerationRepository for T where
    T: FlagRepository + BanRepository + DeletionRepository + AuditRepository + EventRepository
{
}

/// Flags.
#[async_trait]
pub trait FlagRepository: Send + Sync + 'static {
    /// Creates the flag, or replaces the reason and note of the flagger's flag on
    /// that user. Emits USER_FLAGGED with the new count. FAILED_PRECONDITION /
    /// USER_DELETED when the user has a deletion job, decided in the write
    /// transaction, so no flag lands after the deletion removed the user's flags.
    async fn upsert_flag(
        &self,
        flag: NewFlag,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<FlagChange>;

    /// Removes `flagger`'s flag on `user_id`; `None` when there is none (nothing
    /// recorded then). Emits USER_UNFLAGGED.
    async fn remove_flag(
        &self,
        user_id: i64,
        flagger: &str,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Unflagged>>;

    /// Removes every flag against `user_id`. Emits FLAGS_CLEARED and records the
    /// audit entry only when there was something to remove.
    async fn clear_flags(
        &self,
        user_id: i64,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Cleared>;

    /// Which of `user_ids` `flagger` has flagged.
    async fn flagged_by(&self, flagger: &str, user_ids: &[i64]) -> Result<BTreeSet<i64>>;

    async fn flag_count(&self, user_id: i64) -> Result<i64>;

    /// Flags against `query.user_id`, newest first, at most `query.limit + 1`.
    async fn list_flags(&self, query: &FlagsQuery) -> Result<Vec<Flag>>;

    /// How many flags `user_id` raised and how many are raised against it.
    async fn flag_tally(&self, user_id: i64) -> Result<FlagTally>;
}

/// Global bans.
#[async_trait]
pub trait BanRepository: Send + Sync + 'static {
    /// Bans, or updates the reason and expiry of a ban active at `now`. A ban no
    /// longer active (expired, lifted) is replaced by a new one. Emits USER_BANNED.
    /// FAILED_PRECONDITION / USER_DELETED when the user has a deletion job,
    /// decided in the write transaction (a ban racing a deletion never lands
    /// after it).
    async fn upsert_ban(
        &self,
        ban: NewBan,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<BanChange>;

    /// Lifts the ban of `user_id` active at `now`; `None` when there is none.
    /// Emits USER_UNBANNED.
    async fn lift_ban(
        &self,
        user_id: i64,
        lifted_by: &str,
        reason: &str,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Unbanned>>;

    async fn get_ban(&self, user_id: i64) -> Result<Option<Ban>>;

    /// Bans matching the filter at `now`, newest first, at most `query.limit + 1`.
    async fn list_bans(&self, query: &BanQuery, now: DateTime<Utc>) -> Result<Vec<Ban>>;
}

/// Deletion jobs, their steps and their leases.
#[async_trait]
pub trait DeletionRepository: Send + Sync + 'static {
    /// Creates the job and its steps. FAILED_PRECONDITION / USER_ALREADY_DELETED
    /// when the user has a job already (a unique constraint decides races). Emits
    /// USER_DELETION_STARTED.
    async fn create_deletion_job(
        &self,
        job: NewDeletionJob,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<DeletionJob>;

    async fn deletion_job(&self, job_id: i64) -> Result<Option<DeletionJob>>;

    async fn deletion_job_of_user(&self, user_id: i64) -> Result<Option<DeletionJob>>;

    /// Jobs matching the query, newest first, at most `query.limit + 1`.
    async fn list_deletion_jobs(&self, query: &JobQuery) -> Result<Vec<DeletionJob>>;

    /// Ids of unfinished jobs due at `now` whose lease is free or expired, oldest
    /// due first, at most `limit`.
    async fn due_deletion_jobs(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>>;

    /// Takes the job's lease for `owner` until `until` if the job is unfinished,
    /// due, and its lease free or expired at `now` (one conditional UPDATE: of
    /// two claimers exactly one wins). Returns whether `owner` holds it now.
    async fn claim_deletion_job(
        &self,
        job_id: i64,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;

    /// Extends a held lease; false when the lease was lost (another owner).
    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool>;

    /// Marks the step RUNNING and counts the attempt; returns the step as
    /// updated. ABORTED / LEASE_LOST when `lease` is no longer held.
    async fn start_step(
        &self,
        lease: &Lease,
        position: i32,
        now: DateTime<Utc>,
    ) -> Result<DeletionStep>;

    /// Records a step's end (SUCCEEDED with its counts, or SKIPPED); when it was
    /// the last unfinished step, completes the job, emits USER_DELETED and frees
    /// the lease. Returns whether the job completed. LEASE_LOST as above.
    async fn finish_step(
        &self,
        lease: &Lease,
        position: i32,
        outcome: StepOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    /// Records a failed attempt: the step waits (RETRYING) until `retry_at`, the
    /// job is due again then, and the lease is freed so any replica may retry.
    async fn retry_step_later(
        &self,
        lease: &Lease,
        position: i32,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// The REMOVE_FLAGS step in one transaction: removes the flags raised by and
    /// against `user_id` (emitting the flag events that correct every affected
    /// count), then records the step as [`finish_step`] does, with the counts.
    ///
    /// The removal is dated by `clock` when it starts, the step's end when
    /// the removal is done (it can take seconds for a prolific flagger).
    ///
    /// [`finish_step`]: ModerationRepository::finish_step
    async fn remove_flags_step(
        &self,
        lease: &Lease,
        position: i32,
        user_id: i64,
        clock: &dyn Clock,
    ) -> Result<bool>;
}

/// The audit log.
#[async_trait]
pub trait AuditRepository: Send + Sync + 'static {
    /// Entries matching the query, newest first, at most `query.limit + 1`.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Records the actions seen on another service's event stream `stream`
    /// up to its position `through`, and advances the stream's stored position
    /// to `through`, in one transaction. Actions at positions consumed already
    /// are skipped; returns how many were recorded.
    async fn record_external_actions(
        &self,
        stream: &str,
        through: i64,
        actions: Vec<ExternalAction>,
    ) -> Result<usize>;

    /// Records one action seen at position `position` of `stream` (see
    /// [`Self::record_external_actions`]); whether it was recorded.
    async fn record_external_action(
        &self,
        stream: &str,
        position: i64,
        record: AuditRecord,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let action = ExternalAction {
            position,
            record,
            at,
        };
        Ok(self
            .record_external_actions(stream, position, vec![action])
            .await?
            > 0)
    }

    /// The last consumed position of `stream` (0 when none).
    async fn stream_position(&self, stream: &str) -> Result<i64>;
}

/// The outbox.
#[async_trait]
pub trait EventRepository: Send + Sync + 'static {
    /// Notified after every commit that appended events (wakes event streams).
    fn changes(&self) -> Arc<Notify>;

    /// Events after sequence `after`, oldest first, at most `limit`.
    async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<StoredEvent>>;

    /// The sequence of the newest event (0: none).
    async fn newest_event_seq(&self) -> Result<i64>;
}

/// A user as the moderation service needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: i64,
    /// For display to moderators only; never stored here.
    pub name: String,
    pub is_deleted: bool,
}

/// The user service.
#[async_trait]
pub trait UserDirectory: Send + Sync + 'static {
    /// The user with this id, deleted or not; `None` when there is none.
    async fn find_user(&self, user_id: i64) -> Result<Option<UserSummary>>;

    /// Makes the user the tombstone: display name "Deleted User", profile,
    /// properties and avatar cleared, `is_deleted` set, tokens revoked, the name
    /// kept (never reusable). Idempotent; returns whether anything changed.
    async fn tombstone_user(&self, user_id: i64) -> Result<bool>;

    /// What tombstoning would erase, by kind (e.g. {"user_records": 1,
    /// "properties": 3}); touches nothing.
    async fn count_user_data(&self, user_id: i64) -> Result<Counts>;
}

/// The role service.
#[async_trait]
pub trait RoleGrants: Send + Sync + 'static {
    /// Whether the user holds `permission` network-wide.
    async fn holds(&self, user_id: i64, permission: &str) -> Result<bool>;

    /// Revokes every grant of the user, in every scope. Idempotent; returns how
    /// many grants this call revoked.
    async fn revoke_all_grants(&self, user_id: i64) -> Result<i64>;

    /// How many grants the user has (in every scope).
    async fn count_grants(&self, user_id: i64) -> Result<i64>;
}

/// The file service.
#[async_trait]
pub trait UserFiles: Send + Sync + 'static {
    /// Erases every file of the user, avatars included. Idempotent; returns how
    /// many files this call erased.
    async fn erase_user_files(&self, user_id: i64) -> Result<i64>;

    /// How many files the user has.
    async fn count_user_files(&self, user_id: i64) -> Result<i64>;
}

/// A product's service implementing `roster.v1.DeletionParticipant`.
#[async_trait]
pub trait DeletionParticipant: Send + Sync + 'static {
    /// Its configured name (unique among participants), e.g. "chat".
    fn name(&self) -> &str;

    /// Erases the user's content per `options`; `Ok` is the acknowledgement.
    /// Idempotent per `job_id`; returns the counts erased.
    async fn delete_user_content(
        &self,
        user_id: i64,
        options: &DeletionOptions,
        job_id: i64,
    ) -> Result<Counts>;

    /// What `delete_user_content` would erase; `None` when the participant
    /// cannot say (it answered UNIMPLEMENTED).
    async fn preview(&self, user_id: i64, options: &DeletionOptions) -> Result<Option<Counts>>;
}

/// Everything the domain needs from the other services.
#[derive(Clone)]
pub struct Peers {
    pub users: Arc<dyn UserDirectory>,
    pub roles: Arc<dyn RoleGrants>,
    pub files: Arc<dyn UserFiles>,
    /// The configured deletion participants, in configuration order.
    pub participants: Vec<Arc<dyn DeletionParticipant>>,
}

impl Peers {
    pub fn participant(&self, name: &str) -> Option<&Arc<dyn DeletionParticipant>> {
        self.participants.iter().find(|p| p.name() == name)
    }

    pub fn participant_names(&self) -> Vec<String> {
        self.participants
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    }
}
