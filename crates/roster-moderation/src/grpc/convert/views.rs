//! Domain values → response messages.

use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;

use super::{
    pages,
    requests::{audit_fingerprint, bans_fingerprint, flags_fingerprint, jobs_fingerprint},
    timestamp,
};
use crate::domain::{
    Page,
    audit::{AuditAction, AuditEntry, AuditPosition, AuditQuery},
    bans::{Ban, BanChange, BanPosition, BanQuery, BanState, Unbanned},
    deletion::{
        Counts, DeleteOutcome, DeletionJob, DeletionOptions, DeletionPreview, DeletionStep,
        JobQuery, JobState, StepKind, StepState,
    },
    events::{ModerationEvent, StoredEvent},
    flags::{Cleared, Flag, FlagChange, FlagPosition, FlagReason, FlagsQuery, Unflagged},
};

fn next_token<T>(page: &Page<T>, position: impl Fn(&T) -> (i64, i64), query: u64) -> String {
    match (page.more, page.items.last()) {
        (true, Some(last)) => {
            let (key, id) = position(last);
            pages::encode(query, key, id)
        }
        _ => String::new(),
    }
}

fn counts(counts: &Counts) -> std::collections::HashMap<String, i64> {
    counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

fn flag_reason(reason: FlagReason) -> pb::FlagReason {
    match reason {
        FlagReason::Spam => pb::FlagReason::Spam,
        FlagReason::Harassment => pb::FlagReason::Harassment,
        FlagReason::HateSpeech => pb::FlagReason::HateSpeech,
        FlagReason::Violence => pb::FlagReason::Violence,
        FlagReason::SexualContent => pb::FlagReason::SexualContent,
        FlagReason::SelfHarm => pb::FlagReason::SelfHarm,
        FlagReason::RestrictedItems => pb::FlagReason::RestrictedItems,
        FlagReason::Misinformation => pb::FlagReason::Misinformation,
        FlagReason::Impersonation => pb::FlagReason::Impersonation,
        FlagReason::Other => pb::FlagReason::Other,
    }
}

pub fn flag(flag: &Flag) -> pb::Flag {
    pb::Flag {
        user_id: flag.user_id,
        flagger: flag.flagger.clone(),
        flagger_user_id: flag.flagger_user_id.unwrap_or(0),
        reason: flag_reason(flag.reason).into(),
        note: flag.note.clone(),
        created_at: Some(timestamp(flag.created_at)),
        updated_at: Some(timestamp(flag.updated_at)),
    }
}

pub fn flag_change(change: FlagChange) -> pb::FlagUserResponse {
    pb::FlagUserResponse {
        flag: Some(flag(&change.flag)),
        created: change.created,
        flag_count: change.flag_count,
        event_cursor: change.event_seq.to_string(),
    }
}

pub fn unflagged(change: Unflagged) -> pb::UnflagUserResponse {
    pb::UnflagUserResponse {
        flag: Some(flag(&change.flag)),
        flag_count: change.flag_count,
        event_cursor: change.event_seq.to_string(),
    }
}

pub fn flagged_by_me(answers: Vec<(i64, bool)>) -> pb::IsFlaggedByMeResponse {
    pb::IsFlaggedByMeResponse {
        results: answers
            .into_iter()
            .map(|(user_id, flagged)| pb::FlaggedByMe { user_id, flagged })
            .collect(),
    }
}

pub fn flags_page(query: &FlagsQuery, page: Page<Flag>, flag_count: i64) -> pb::ListFlagsResponse {
    let next_page_token = next_token(
        &page,
        |f| {
            let p = FlagPosition::of(f);
            (p.created_at_ms, p.id)
        },
        flags_fingerprint(query.user_id),
    );
    pb::ListFlagsResponse {
        flags: page.items.iter().map(flag).collect(),
        next_page_token,
        flag_count,
    }
}

pub fn cleared(cleared: Cleared) -> pb::ClearFlagsResponse {
    pb::ClearFlagsResponse {
        removed_count: cleared.removed,
        event_cursor: cleared.event_seq.map(|s| s.to_string()).unwrap_or_default(),
    }
}

pub fn ban(ban: &Ban, now: DateTime<Utc>) -> pb::Ban {
    let state = match ban.state_at(now) {
        BanState::Active => pb::BanState::Active,
        BanState::Expired => pb::BanState::Expired,
        BanState::Lifted => pb::BanState::Lifted,
    };
    pb::Ban {
        user_id: ban.user_id,
        reason: ban.reason.clone(),
        banned_by: ban.banned_by.clone(),
        banned_at: Some(timestamp(ban.banned_at)),
        updated_at: Some(timestamp(ban.updated_at)),
        expires_at: ban.expires_at.map(timestamp),
        state: state.into(),
        lifted_at: ban.lifted_at.map(timestamp),
        lifted_by: ban.lifted_by.clone().unwrap_or_default(),
        lift_reason: ban.lift_reason.clone().unwrap_or_default(),
    }
}

pub fn ban_change(change: BanChange, now: DateTime<Utc>) -> pb::BanUserResponse {
    pb::BanUserResponse {
        ban: Some(ban(&change.ban, now)),
        created: change.created,
        event_cursor: change.event_seq.to_string(),
    }
}

pub fn unbanned(change: Unbanned, now: DateTime<Utc>) -> pb::UnbanUserResponse {
    pb::UnbanUserResponse {
        ban: Some(ban(&change.ban, now)),
        event_cursor: change.event_seq.to_string(),
    }
}

pub fn bans_page(query: &BanQuery, page: Page<Ban>, now: DateTime<Utc>) -> pb::ListBansResponse {
    let next_page_token = next_token(
        &page,
        |b| {
            let p = BanPosition::of(b);
            (p.banned_at_ms, p.user_id)
        },
        bans_fingerprint(query.filter),
    );
    pb::ListBansResponse {
        bans: page.items.iter().map(|b| ban(b, now)).collect(),
        next_page_token,
    }
}

fn options(options: DeletionOptions) -> pb::DeletionOptions {
    pb::DeletionOptions {
        delete_all: options.delete_all,
        mark_messages_deleted: options.mark_messages_deleted,
        hard_delete_posts: options.hard_delete_posts,
        hard_delete_comments: options.hard_delete_comments,
    }
}

fn step_kind(kind: StepKind) -> pb::DeletionStepKind {
    match kind {
        StepKind::TombstoneUser => pb::DeletionStepKind::TombstoneUser,
        StepKind::RevokeGrants => pb::DeletionStepKind::RevokeGrants,
        StepKind::EraseFiles => pb::DeletionStepKind::EraseFiles,
        StepKind::RemoveFlags => pb::DeletionStepKind::RemoveFlags,
        StepKind::NotifyParticipant => pb::DeletionStepKind::NotifyParticipant,
    }
}

fn step(step: &DeletionStep) -> pb::DeletionStep {
    let state = match step.state {
        StepState::Pending => pb::DeletionStepState::Pending,
        StepState::Running => pb::DeletionStepState::Running,
        StepState::Retrying => pb::DeletionStepState::Retrying,
        StepState::Succeeded => pb::DeletionStepState::Succeeded,
        StepState::Skipped => pb::DeletionStepState::Skipped,
    };
    pb::DeletionStep {
        position: step.position,
        kind: step_kind(step.kind).into(),
        service: step.service.clone(),
        state: state.into(),
        attempts: step.attempts,
        last_error: step.last_error.clone().unwrap_or_default(),
        next_attempt_at: step.next_attempt_at.map(timestamp),
        started_at: step.started_at.map(timestamp),
        completed_at: step.completed_at.map(timestamp),
        erased: counts(&step.erased),
    }
}

pub fn job(job: &DeletionJob) -> pb::DeletionJob {
    let state = match job.state {
        JobState::Pending => pb::DeletionJobState::Pending,
        JobState::Running => pb::DeletionJobState::Running,
        JobState::Completed => pb::DeletionJobState::Completed,
    };
    pb::DeletionJob {
        id: job.id,
        user_id: job.user_id,
        options: Some(options(job.options)),
        state: state.into(),
        requested_by: job.requested_by.clone(),
        reason: job.reason.clone(),
        request_id: job.request_id.clone(),
        created_at: Some(timestamp(job.created_at)),
        updated_at: Some(timestamp(job.updated_at)),
        completed_at: job.completed_at.map(timestamp),
        steps: job.steps.iter().map(step).collect(),
        lease_owner: job.lease_owner.clone().unwrap_or_default(),
        lease_until: job.lease_until.map(timestamp),
    }
}

fn preview(preview: &DeletionPreview) -> pb::DeletionPreview {
    pb::DeletionPreview {
        user_id: preview.user_id,
        entries: preview
            .entries
            .iter()
            .map(|entry| pb::DeletionPreviewEntry {
                step: step_kind(entry.step).into(),
                service: entry.service.clone(),
                known: entry.would_erase.is_some(),
                would_erase: entry.would_erase.as_ref().map(counts).unwrap_or_default(),
            })
            .collect(),
    }
}

pub fn delete_outcome(outcome: DeleteOutcome) -> pb::DeleteUserResponse {
    match outcome {
        DeleteOutcome::Started(started) => pb::DeleteUserResponse {
            job: Some(job(&started)),
            preview: None,
        },
        DeleteOutcome::Preview(answer) => pb::DeleteUserResponse {
            job: None,
            preview: Some(preview(&answer)),
        },
    }
}

pub fn jobs_page(query: &JobQuery, page: Page<DeletionJob>) -> pb::ListDeletionJobsResponse {
    let next_page_token = next_token(
        &page,
        |j| (0, j.id),
        jobs_fingerprint(query.state, query.user_id),
    );
    pb::ListDeletionJobsResponse {
        jobs: page.items.iter().map(job).collect(),
        next_page_token,
    }
}

fn audit_action(action: AuditAction) -> pb::AuditAction {
    match action {
        AuditAction::FlagUser => pb::AuditAction::FlagUser,
        AuditAction::UnflagUser => pb::AuditAction::UnflagUser,
        AuditAction::ClearFlags => pb::AuditAction::ClearFlags,
        AuditAction::BanUser => pb::AuditAction::BanUser,
        AuditAction::UnbanUser => pb::AuditAction::UnbanUser,
        AuditAction::DeleteUser => pb::AuditAction::DeleteUser,
        AuditAction::GrantRole => pb::AuditAction::GrantRole,
        AuditAction::RevokeRole => pb::AuditAction::RevokeRole,
    }
}

pub fn audit_page(query: &AuditQuery, page: Page<AuditEntry>) -> pb::ListAuditEntriesResponse {
    let next_page_token = next_token(
        &page,
        |e| {
            let p = AuditPosition::of(e);
            (p.occurred_at_ms, p.id)
        },
        audit_fingerprint(query),
    );
    pb::ListAuditEntriesResponse {
        entries: page
            .items
            .iter()
            .map(|entry| pb::AuditEntry {
                id: entry.id,
                actor: entry.record.actor.clone(),
                target_user_id: entry.record.target_user_id,
                action: audit_action(entry.record.action).into(),
                reason: entry.record.reason.clone(),
                request_id: entry.record.request_id.clone(),
                occurred_at: Some(timestamp(entry.occurred_at)),
                details: entry.record.details.clone().into_iter().collect(),
            })
            .collect(),
        next_page_token,
    }
}

/// An event as streamed; a ban's state is the one at `now`.
pub fn event(stored: StoredEvent, now: DateTime<Utc>) -> pb::ModerationEvent {
    use pb::ModerationEventKind as K;
    let mut message = pb::ModerationEvent {
        meta: Some(
            stored
                .origin
                .meta(stored.seq, timestamp(stored.occurred_at)),
        ),
        user_id: stored.event.user_id(),
        flag_count: stored.event.flag_count().unwrap_or(0),
        actor: stored.actor,
        ..Default::default()
    };
    let kind = match stored.event {
        ModerationEvent::UserFlagged { flag: f, .. } => {
            message.flag = Some(flag(&f));
            K::UserFlagged
        }
        ModerationEvent::UserUnflagged { flag: f, .. } => {
            message.flag = Some(flag(&f));
            K::UserUnflagged
        }
        ModerationEvent::FlagsCleared { .. } => K::FlagsCleared,
        ModerationEvent::UserBanned { ban: b } => {
            message.ban = Some(ban(&b, now));
            K::UserBanned
        }
        ModerationEvent::UserUnbanned { ban: b } => {
            message.ban = Some(ban(&b, now));
            K::UserUnbanned
        }
        ModerationEvent::UserDeletionStarted {
            job_id, options: o, ..
        } => {
            message.deletion_job_id = job_id;
            message.deletion_options = Some(options(o));
            K::UserDeletionStarted
        }
        ModerationEvent::UserDeleted {
            job_id, options: o, ..
        } => {
            message.deletion_job_id = job_id;
            message.deletion_options = Some(options(o));
            K::UserDeleted
        }
    };
    message.kind = kind.into();
    message
}
