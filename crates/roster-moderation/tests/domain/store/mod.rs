//! The repository on both backends: idempotency, counts, filters, uniqueness
//! under races, lease exclusivity, outbox order, audit filters and paging.

mod flags_and_bans;
mod jobs;
mod log;

use chrono::{DateTime, Utc};
use roster_moderation::domain::{
    Caller,
    audit::{AuditAction, AuditRecord},
    deletion::{DeletionOptions, NewDeletionJob, plan_steps},
    flags::{FlagReason, NewFlag},
};

use super::start_time;

pub fn at(seconds: i64) -> DateTime<Utc> {
    start_time() + chrono::TimeDelta::seconds(seconds)
}

pub fn flag_by(flagger: i64, target: i64, reason: FlagReason) -> NewFlag {
    NewFlag {
        user_id: target,
        flagger: format!("user:{flagger}"),
        flagger_user_id: Some(flagger),
        reason,
        note: format!("note by {flagger}"),
    }
}

pub fn audit(caller: &Caller, target: i64, action: AuditAction) -> AuditRecord {
    AuditRecord::new(caller, target, action, "because")
}

pub fn new_job(user_id: i64) -> NewDeletionJob {
    NewDeletionJob {
        user_id,
        options: DeletionOptions {
            delete_all: true,
            ..DeletionOptions::default()
        },
        requested_by: "admin:platform".into(),
        reason: "requested".into(),
        request_id: "req-1".into(),
        steps: plan_steps(&["chat".to_owned()]),
    }
}
