//! The deletion job model: options, steps in their fixed order, states, and
//! the receipt.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::fields::Reason;

/// What was (or would be) erased, by kind: e.g. {"files": 14}.
pub type Counts = BTreeMap<String, i64>;

/// Names of the counts Roster's own steps report.
pub mod counts {
    pub const USER_RECORDS: &str = "user_records";
    pub const ROLE_GRANTS: &str = "role_grants";
    pub const FILES: &str = "files";
    pub const FLAGS_BY_USER: &str = "flags_by_user";
    pub const FLAGS_AGAINST_USER: &str = "flags_against_user";
}

/// Where Roster's own steps act (a participant step names its participant).
pub mod services {
    pub const USERS: &str = "users";
    pub const ROLES: &str = "roles";
    pub const FILES: &str = "files";
    pub const MODERATION: &str = "moderation";
}

/// What to do with the user's content in other systems (see
/// `deletion_participant.proto`). Roster's own data is erased regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeletionOptions {
    pub delete_all: bool,
    pub mark_messages_deleted: bool,
    pub hard_delete_posts: bool,
    pub hard_delete_comments: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    TombstoneUser,
    RevokeGrants,
    EraseFiles,
    RemoveFlags,
    NotifyParticipant,
}

impl StepKind {
    pub const ALL: [StepKind; 5] = [
        StepKind::TombstoneUser,
        StepKind::RevokeGrants,
        StepKind::EraseFiles,
        StepKind::RemoveFlags,
        StepKind::NotifyParticipant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::TombstoneUser => "TOMBSTONE_USER",
            StepKind::RevokeGrants => "REVOKE_GRANTS",
            StepKind::EraseFiles => "ERASE_FILES",
            StepKind::RemoveFlags => "REMOVE_FLAGS",
            StepKind::NotifyParticipant => "NOTIFY_PARTICIPANT",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == stored)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepState {
    Pending,
    /// An attempt started (and may have died with its replica).
    Running,
    /// The last attempt failed; waiting for `next_attempt_at`.
    Retrying,
    Succeeded,
    /// Not run (a participant no longer configured); the job went on.
    Skipped,
}

impl StepState {
    pub const ALL: [StepState; 5] = [
        StepState::Pending,
        StepState::Running,
        StepState::Retrying,
        StepState::Succeeded,
        StepState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "PENDING",
            StepState::Running => "RUNNING",
            StepState::Retrying => "RETRYING",
            StepState::Succeeded => "SUCCEEDED",
            StepState::Skipped => "SKIPPED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == stored)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, StepState::Succeeded | StepState::Skipped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// No step started yet.
    Pending,
    /// Some step started; running or waiting to retry.
    Running,
    Completed,
}

impl JobState {
    pub const ALL: [JobState; 3] = [JobState::Pending, JobState::Running, JobState::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == stored)
    }
}

/// A step as planned when the job is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub kind: StepKind,
    pub service: String,
}

/// The steps of a deletion, in the order they run: Roster's own services first
/// (the user is tombstoned before anything else, so it can no longer act), then
/// each participant in configuration order.
pub fn plan_steps(participants: &[String]) -> Vec<PlannedStep> {
    let own = [
        (StepKind::TombstoneUser, services::USERS),
        (StepKind::RevokeGrants, services::ROLES),
        (StepKind::EraseFiles, services::FILES),
        (StepKind::RemoveFlags, services::MODERATION),
    ];
    own.into_iter()
        .map(|(kind, service)| PlannedStep {
            kind,
            service: service.to_owned(),
        })
        .chain(participants.iter().map(|name| PlannedStep {
            kind: StepKind::NotifyParticipant,
            service: name.clone(),
        }))
        .collect()
}

/// A job to create. Holds the user's id, never its name or profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeletionJob {
    pub user_id: i64,
    pub options: DeletionOptions,
    pub requested_by: String,
    pub reason: String,
    pub request_id: String,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionStep {
    pub position: i32,
    pub kind: StepKind,
    pub service: String,
    pub state: StepState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub erased: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionJob {
    pub id: i64,
    pub user_id: i64,
    pub options: DeletionOptions,
    pub state: JobState,
    pub requested_by: String,
    pub reason: String,
    pub request_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub steps: Vec<DeletionStep>,
}

impl DeletionJob {
    /// The first step not finished, if any.
    pub fn next_step(&self) -> Option<&DeletionStep> {
        self.steps.iter().find(|s| !s.state.is_finished())
    }

    /// What was erased where and when: the steps' counts and times, with the
    /// user's id and nothing else about the user.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            job_id: self.id,
            user_id: self.user_id,
            options: self.options,
            completed_at: self.completed_at,
            lines: self
                .steps
                .iter()
                .map(|step| ReceiptLine {
                    step: step.kind,
                    service: step.service.clone(),
                    state: step.state,
                    erased: step.erased.clone(),
                    at: step.completed_at,
                })
                .collect(),
        }
    }
}

/// The record that outlives the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub job_id: i64,
    pub user_id: i64,
    pub options: DeletionOptions,
    pub completed_at: Option<DateTime<Utc>>,
    pub lines: Vec<ReceiptLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    pub step: StepKind,
    pub service: String,
    pub state: StepState,
    pub erased: Counts,
    pub at: Option<DateTime<Utc>>,
}

/// The right to work on a job, held by one runner (`owner`) at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i64,
    pub owner: String,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded(Counts),
    /// Not run, and why.
    Skipped(String),
}

/// ListDeletionJobs, parsed: newest first (by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    pub state: Option<JobState>,
    pub user_id: Option<i64>,
    pub limit: u64,
    /// Jobs with an id below this one.
    pub before_id: Option<i64>,
}

/// DeleteUser, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteUserInput {
    pub user_id: i64,
    pub options: DeletionOptions,
    pub dry_run: bool,
    pub reason: Reason,
}

/// What DeleteUser did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Started(DeletionJob),
    Preview(DeletionPreview),
}

/// What a deletion would erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionPreview {
    pub user_id: i64,
    pub entries: Vec<PreviewEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewEntry {
    pub step: StepKind,
    pub service: String,
    /// `None`: the service could not say.
    pub would_erase: Option<Counts>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_steps_come_first_in_fixed_order_then_participants_in_config_order() {
        let plan = plan_steps(&["chat".to_owned(), "feed".to_owned()]);
        let got: Vec<(StepKind, &str)> =
            plan.iter().map(|s| (s.kind, s.service.as_str())).collect();
        assert_eq!(
            got,
            [
                (StepKind::TombstoneUser, "users"),
                (StepKind::RevokeGrants, "roles"),
                (StepKind::EraseFiles, "files"),
                (StepKind::RemoveFlags, "moderation"),
                (StepKind::NotifyParticipant, "chat"),
                (StepKind::NotifyParticipant, "feed"),
            ]
        );
        assert_eq!(plan_steps(&[]).len(), 4);
    }

    #[test]
    fn names_round_trip() {
        for kind in StepKind::ALL {
            assert_eq!(StepKind::parse(kind.as_str()), Some(kind));
        }
        for state in StepState::ALL {
            assert_eq!(StepState::parse(state.as_str()), Some(state));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
    }
}
