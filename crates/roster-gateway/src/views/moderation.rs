//! Moderation as JSON: flags, bans, deletion jobs, the audit log, events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::time;

/// Why a user was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlagReason {
    Spam,
    Harassment,
    HateSpeech,
    Violence,
    SexualContent,
    SelfHarm,
    RestrictedItems,
    Misinformation,
    Impersonation,
    Other,
}

impl FlagReason {
    fn from_proto(raw: i32) -> Self {
        use pb::FlagReason as R;
        match R::try_from(raw) {
            Ok(R::Spam) => Self::Spam,
            Ok(R::Harassment) => Self::Harassment,
            Ok(R::HateSpeech) => Self::HateSpeech,
            Ok(R::Violence) => Self::Violence,
            Ok(R::SexualContent) => Self::SexualContent,
            Ok(R::SelfHarm) => Self::SelfHarm,
            Ok(R::RestrictedItems) => Self::RestrictedItems,
            Ok(R::Misinformation) => Self::Misinformation,
            Ok(R::Impersonation) => Self::Impersonation,
            _ => Self::Other,
        }
    }

    pub fn to_proto(self) -> pb::FlagReason {
        use pb::FlagReason as R;
        match self {
            Self::Spam => R::Spam,
            Self::Harassment => R::Harassment,
            Self::HateSpeech => R::HateSpeech,
            Self::Violence => R::Violence,
            Self::SexualContent => R::SexualContent,
            Self::SelfHarm => R::SelfHarm,
            Self::RestrictedItems => R::RestrictedItems,
            Self::Misinformation => R::Misinformation,
            Self::Impersonation => R::Impersonation,
            Self::Other => R::Other,
        }
    }
}

/// One flagger's report against one user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub user_id: i64,
    /// "user:<id>", "admin:<client>" or "service:<name>".
    pub flagger: String,
    /// The flagger's user id when the flagger is a user; 0 otherwise.
    pub flagger_user_id: i64,
    pub reason: FlagReason,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<pb::Flag> for Flag {
    fn from(flag: pb::Flag) -> Self {
        Self {
            user_id: flag.user_id,
            flagger: flag.flagger,
            flagger_user_id: flag.flagger_user_id,
            reason: FlagReason::from_proto(flag.reason),
            note: flag.note,
            created_at: time(flag.created_at),
            updated_at: time(flag.updated_at),
        }
    }
}

/// Where a ban stands when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BanState {
    Active,
    Expired,
    Lifted,
}

/// A user's global ban.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    pub user_id: i64,
    pub reason: String,
    pub banned_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Absent for a permanent ban.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub state: BanState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lifted_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lift_reason: String,
}

impl From<pb::Ban> for Ban {
    fn from(ban: pb::Ban) -> Self {
        let state = match pb::BanState::try_from(ban.state) {
            Ok(pb::BanState::Expired) => BanState::Expired,
            Ok(pb::BanState::Lifted) => BanState::Lifted,
            _ => BanState::Active,
        };
        Self {
            user_id: ban.user_id,
            reason: ban.reason,
            banned_by: ban.banned_by,
            banned_at: time(ban.banned_at),
            updated_at: time(ban.updated_at),
            expires_at: time(ban.expires_at),
            state,
            lifted_at: time(ban.lifted_at),
            lifted_by: ban.lifted_by,
            lift_reason: ban.lift_reason,
        }
    }
}

/// What to do with a deleted user's content in other systems (passed to every
/// deletion participant and carried by the USER_DELETED event).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeletionOptions {
    /// Erase all personal data; implies the three below.
    #[serde(default)]
    pub delete_all: bool,
    /// Delete the channels the user created and the messages it sent.
    #[serde(default)]
    pub mark_messages_deleted: bool,
    /// Delete the user's posts with everything under them.
    #[serde(default)]
    pub hard_delete_posts: bool,
    /// Delete the user's comments and reactions.
    #[serde(default)]
    pub hard_delete_comments: bool,
}

impl DeletionOptions {
    pub fn from_proto(options: Option<pb::DeletionOptions>) -> Self {
        let options = options.unwrap_or_default();
        Self {
            delete_all: options.delete_all,
            mark_messages_deleted: options.mark_messages_deleted,
            hard_delete_posts: options.hard_delete_posts,
            hard_delete_comments: options.hard_delete_comments,
        }
    }

    pub fn to_proto(&self) -> pb::DeletionOptions {
        pb::DeletionOptions {
            delete_all: self.delete_all,
            mark_messages_deleted: self.mark_messages_deleted,
            hard_delete_posts: self.hard_delete_posts,
            hard_delete_comments: self.hard_delete_comments,
        }
    }
}

fn name_of(raw: String, prefix: &str) -> String {
    raw.strip_prefix(prefix).map(str::to_owned).unwrap_or(raw)
}

/// One step of a deletion job, and its part of the receipt.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionStep {
    pub position: i32,
    /// TOMBSTONE_USER, REVOKE_GRANTS, ERASE_FILES, REMOVE_FLAGS or NOTIFY_PARTICIPANT.
    pub kind: String,
    pub service: String,
    /// PENDING, RUNNING, RETRYING, SUCCEEDED or SKIPPED.
    pub state: String,
    pub attempts: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// What it erased, by kind, e.g. {"files": 14}.
    pub erased: BTreeMap<String, i64>,
}

impl From<pb::DeletionStep> for DeletionStep {
    fn from(step: pb::DeletionStep) -> Self {
        let kind = pb::DeletionStepKind::try_from(step.kind)
            .map(|k| k.as_str_name().to_owned())
            .unwrap_or_default();
        let state = pb::DeletionStepState::try_from(step.state)
            .map(|s| s.as_str_name().to_owned())
            .unwrap_or_default();
        Self {
            position: step.position,
            kind: name_of(kind, "DELETION_STEP_KIND_"),
            service: step.service,
            state: name_of(state, "DELETION_STEP_STATE_"),
            attempts: step.attempts,
            last_error: step.last_error,
            next_attempt_at: time(step.next_attempt_at),
            started_at: time(step.started_at),
            completed_at: time(step.completed_at),
            erased: step.erased.into_iter().collect(),
        }
    }
}

/// A durable user deletion: its state, and the receipt (its steps).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionJob {
    pub id: i64,
    pub user_id: i64,
    pub options: DeletionOptions,
    /// PENDING, RUNNING or COMPLETED.
    pub state: String,
    pub requested_by: String,
    pub reason: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<DeletionStep>,
}

impl From<pb::DeletionJob> for DeletionJob {
    fn from(job: pb::DeletionJob) -> Self {
        let state = pb::DeletionJobState::try_from(job.state)
            .map(|s| s.as_str_name().to_owned())
            .unwrap_or_default();
        Self {
            id: job.id,
            user_id: job.user_id,
            options: DeletionOptions::from_proto(job.options),
            state: name_of(state, "DELETION_JOB_STATE_"),
            requested_by: job.requested_by,
            reason: job.reason,
            request_id: job.request_id,
            created_at: time(job.created_at),
            updated_at: time(job.updated_at),
            completed_at: time(job.completed_at),
            steps: job.steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// What one step of a deletion would erase.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPreviewEntry {
    pub step: String,
    pub service: String,
    /// False when the service could not say.
    pub known: bool,
    pub would_erase: BTreeMap<String, i64>,
}

/// What a deletion would erase, service by service (a dry run).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPreview {
    pub user_id: i64,
    pub entries: Vec<DeletionPreviewEntry>,
}

impl From<pb::DeletionPreview> for DeletionPreview {
    fn from(preview: pb::DeletionPreview) -> Self {
        Self {
            user_id: preview.user_id,
            entries: preview
                .entries
                .into_iter()
                .map(|entry| DeletionPreviewEntry {
                    step: name_of(
                        pb::DeletionStepKind::try_from(entry.step)
                            .map(|k| k.as_str_name().to_owned())
                            .unwrap_or_default(),
                        "DELETION_STEP_KIND_",
                    ),
                    service: entry.service,
                    known: entry.known,
                    would_erase: entry.would_erase.into_iter().collect(),
                })
                .collect(),
        }
    }
}

/// One recorded moderation action.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub target_user_id: i64,
    /// FLAG_USER, UNFLAG_USER, CLEAR_FLAGS, BAN_USER, UNBAN_USER, DELETE_USER, GRANT_ROLE, REVOKE_ROLE.
    pub action: String,
    pub reason: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    pub details: BTreeMap<String, String>,
}

impl From<pb::AuditEntry> for AuditEntry {
    fn from(entry: pb::AuditEntry) -> Self {
        let action = pb::AuditAction::try_from(entry.action)
            .map(|a| a.as_str_name().to_owned())
            .unwrap_or_default();
        Self {
            id: entry.id,
            actor: entry.actor,
            target_user_id: entry.target_user_id,
            action: name_of(action, "AUDIT_ACTION_"),
            reason: entry.reason,
            request_id: entry.request_id,
            occurred_at: time(entry.occurred_at),
            details: entry.details.into_iter().collect(),
        }
    }
}

/// A moderation change (the data of a moderation-stream event).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModerationEvent {
    pub cursor: String,
    /// USER_FLAGGED, USER_UNFLAGGED, FLAGS_CLEARED, USER_BANNED, USER_UNBANNED,
    /// USER_DELETION_STARTED or USER_DELETED.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    pub user_id: i64,
    pub flag_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban: Option<Ban>,
    pub deletion_job_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_options: Option<DeletionOptions>,
    pub actor: String,
}

impl From<pb::ModerationEvent> for ModerationEvent {
    fn from(event: pb::ModerationEvent) -> Self {
        let meta = event.meta.unwrap_or_default();
        let kind = pb::ModerationEventKind::try_from(event.kind)
            .map(|k| k.as_str_name().to_owned())
            .unwrap_or_default();
        Self {
            cursor: meta.cursor,
            kind: name_of(kind, "MODERATION_EVENT_KIND_"),
            occurred_at: time(meta.occurred_at),
            user_id: event.user_id,
            flag_count: event.flag_count,
            flag: event.flag.map(Into::into),
            ban: event.ban.map(Into::into),
            deletion_job_id: event.deletion_job_id,
            deletion_options: event
                .deletion_options
                .map(|o| DeletionOptions::from_proto(Some(o))),
            actor: event.actor,
        }
    }
}
