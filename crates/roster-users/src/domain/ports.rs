//! What the domain needs from outside: its repository (implemented by
//! `store`), the other services (implemented over gRPC by `peers`), and the
//! clock. Every trait is object-safe; the domain holds them as `Arc<dyn …>`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::Result;
use tokio::sync::Notify;

use super::{
    NewUser, PresenceWrite, RoleChange, User, UserEvent, UserKey,
    avatars::AvatarFile,
    query::{Phase, Position, UserQuery},
    user::ModerationChange,
};

/// Everything the user service keeps: one trait per capability, each
/// implemented by its own module of the store.
pub trait UserRepository:
    UserRecords + UserSearch + UserEventLog + RoleProjection + ModerationProjection
{
}

impl<T> UserRepository for T where
    T: UserRecords + UserSearch + UserEventLog + RoleProjection + ModerationProjection
{
}

/// User records. Every change is written with its outbox event (see
/// [`UserEventLog`]) in one transaction.
#[async_trait]
pub trait UserRecords: Send + Sync + 'static {
    /// A user by id or by name.
    async fn find(&self, key: &UserKey) -> Result<Option<User>>;

    /// The users among `ids` that exist, in any order.
    async fn find_by_ids(&self, ids: &[i64]) -> Result<Vec<User>>;

    /// The users among `names` that exist, in any order.
    async fn find_by_names(&self, names: &[String]) -> Result<Vec<User>>;

    /// Creates the user (event CREATED). A guest created by Login keeps the hash
    /// of its resume secret. ALREADY_EXISTS / USER_ALREADY_EXISTS when the name
    /// is taken.
    async fn insert(
        &self,
        new: &NewUser,
        guest_secret_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<User>;

    /// Writes the profile fields of `changed` if the stored version is still
    /// `expected_version`, bumping the version (event UPDATED); `None` when it
    /// is not.
    async fn save_profile(
        &self,
        changed: &User,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<User>>;

    /// Writes the presence and call status changes of several users (one
    /// each) in one transaction, leaving version and `updated_at`; a field a
    /// change leaves `None` keeps its stored value. No outbox event: once
    /// committed, the changes are published on the [`super::PresenceFeed`]
    /// of every replica (see [`UserEventLog::presence_feed`]). Returns the
    /// users written (users that do not exist are absent).
    async fn save_presences(
        &self,
        writes: &[PresenceWrite],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>>;

    /// Invalidates every token issued so far (event TOKENS_REVOKED); `None` when
    /// the user does not exist.
    async fn bump_token_generation(&self, id: i64, now: DateTime<Utc>) -> Result<Option<User>>;

    /// The stored hash of a guest's resume secret; `None` for users without one.
    async fn guest_secret_hash(&self, id: i64) -> Result<Option<String>>;

    /// Makes the user a tombstone (see [`super::moderation`]) with its DELETED
    /// event, unless it already is one. The user as it is afterwards and whether
    /// this call changed it; `None` when there is no such user.
    async fn tombstone(&self, id: i64, now: DateTime<Utc>) -> Result<Option<(User, bool)>>;
}

/// Listing and searching.
#[async_trait]
pub trait UserSearch: Send + Sync + 'static {
    /// Up to `limit` users of one phase of `query`, in the query's order, after
    /// `after`.
    async fn query_phase(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> Result<Vec<User>>;
}

/// The outbox of user changes.
#[async_trait]
pub trait UserEventLog: Send + Sync + 'static {
    /// Woken after every change this replica commits.
    fn committed(&self) -> Arc<Notify>;

    /// Up to `limit` events committed after sequence `after`, oldest first.
    async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<UserEvent>>;

    /// The sequence of the newest event (0: none).
    async fn newest_event_sequence(&self) -> Result<i64>;

    /// Presence changes as they commit, on this replica or another.
    fn presence_feed(&self) -> Arc<super::PresenceFeed>;
}

/// Users' network roles, projected from the role service's event stream.
#[async_trait]
pub trait RoleProjection: Send + Sync + 'static {
    /// Sequence of the last role event applied.
    async fn role_sync_position(&self) -> Result<i64>;

    /// Applies role event `sequence` to `user_id`'s network roles, once even
    /// when several replicas follow the stream; `change` is `None` for events
    /// that concern no network role (they only move the position). Whether this
    /// call applied it.
    async fn apply_role_event(
        &self,
        sequence: i64,
        user_id: i64,
        change: Option<&RoleChange>,
    ) -> Result<bool>;

    /// Moves the position to `sequence` (unless it is there already) past
    /// events that concern no network role: what [`Self::apply_role_event`]
    /// does for each of them, in one statement.
    async fn pass_role_events(&self, sequence: i64) -> Result<()>;
}

/// Uploaded files, as far as avatars need them (the file service).
/// Users' moderation state (ban, flag count), projected from the moderation
/// service's events: each event applied once, whichever replica gets it first.
#[async_trait]
pub trait ModerationProjection: Send + Sync + 'static {
    /// Sequence of the last moderation event applied.
    async fn moderation_sync_position(&self) -> Result<i64>;

    /// Applies moderation event `sequence` to `user_id` (with its user event),
    /// unless already applied; `change` is `None` for events that change no
    /// user's record (they only move the position). Whether this call applied it.
    async fn apply_moderation_event(
        &self,
        sequence: i64,
        user_id: i64,
        change: Option<&ModerationChange>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}

#[async_trait]
pub trait AvatarFiles: Send + Sync + 'static {
    /// The file's metadata; `None` when there is no such file.
    async fn file(&self, file_id: &str) -> Result<Option<AvatarFile>>;
}

/// Role grants (the role service).
#[async_trait]
pub trait RoleGrants: Send + Sync + 'static {
    /// Whether the user holds any unexpired grant, in any scope (beyond the
    /// implicit `member`, which is never granted).
    async fn holds_any_grant(&self, user_id: i64) -> Result<bool>;
}

/// What time it is; injectable so expiries are testable without waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
