//! Requests → domain inputs and queries.

use roster_kit::{Error, Result, paging};
use roster_proto::v1 as pb;

use super::{pages, time_from, user_id};
use crate::domain::{
    audit::{AuditAction, AuditPosition, AuditQuery},
    bans::{BanFilter, BanInput, BanPosition, BanQuery},
    deletion::{DeleteUserInput, DeletionOptions, JobQuery, JobState},
    fields::{self, Note, Reason},
    flags::{FlagInput, FlagPosition, FlagReason, FlagsQuery},
};

/// Longest `actor` filter (the column's size).
const MAX_ACTOR_CHARS: usize = 200;

fn invalid(violation: roster_kit::FieldViolation) -> Error {
    Error::invalid(vec![violation])
}

fn reason(raw: &str) -> Result<Reason> {
    Reason::parse(raw, "reason").map_err(invalid)
}

fn unknown_enum(field: &str, value: i32) -> Error {
    Error::invalid_field(field, format!("{value} is not a known value"))
}

fn flag_reason(value: i32) -> Result<FlagReason> {
    use pb::FlagReason as P;
    Ok(
        match P::try_from(value).map_err(|_| unknown_enum("reason", value))? {
            P::Unspecified | P::Other => FlagReason::Other,
            P::Spam => FlagReason::Spam,
            P::Harassment => FlagReason::Harassment,
            P::HateSpeech => FlagReason::HateSpeech,
            P::Violence => FlagReason::Violence,
            P::SexualContent => FlagReason::SexualContent,
            P::SelfHarm => FlagReason::SelfHarm,
            P::RestrictedItems => FlagReason::RestrictedItems,
            P::Misinformation => FlagReason::Misinformation,
            P::Impersonation => FlagReason::Impersonation,
        },
    )
}

impl TryFrom<pb::FlagUserRequest> for FlagInput {
    type Error = Error;

    fn try_from(request: pb::FlagUserRequest) -> Result<Self> {
        Ok(Self {
            user_id: user_id(request.user_id, "user_id")?,
            reason: flag_reason(request.reason)?,
            note: Note::parse(&request.note, "note").map_err(invalid)?,
        })
    }
}

/// IsFlaggedByMe's ids.
pub fn user_ids(request: &pb::IsFlaggedByMeRequest) -> Result<Vec<i64>> {
    fields::user_ids(&request.user_ids, "user_ids").map_err(Error::invalid)
}

pub(super) fn flags_fingerprint(user_id: i64) -> u64 {
    pages::fingerprint(&["flags", &user_id.to_string()])
}

pub fn flags_query(request: pb::ListFlagsRequest) -> Result<FlagsQuery> {
    let user_id = user_id(request.user_id, "user_id")?;
    let after = pages::decode(&request.page_token, flags_fingerprint(user_id))?;
    Ok(FlagsQuery {
        user_id,
        limit: paging::page_size(request.page_size, "page_size")?,
        after: after.map(|(created_at_ms, id)| FlagPosition { created_at_ms, id }),
    })
}

pub fn clear_flags(request: pb::ClearFlagsRequest) -> Result<(i64, Reason)> {
    Ok((
        user_id(request.user_id, "user_id")?,
        reason(&request.reason)?,
    ))
}

impl TryFrom<pb::BanUserRequest> for BanInput {
    type Error = Error;

    fn try_from(request: pb::BanUserRequest) -> Result<Self> {
        Ok(Self {
            user_id: user_id(request.user_id, "user_id")?,
            reason: reason(&request.reason)?,
            expires_at: request
                .expires_at
                .as_ref()
                .map(|at| time_from("expires_at", at))
                .transpose()?,
        })
    }
}

pub fn unban(request: pb::UnbanUserRequest) -> Result<(i64, Reason)> {
    Ok((
        user_id(request.user_id, "user_id")?,
        reason(&request.reason)?,
    ))
}

fn ban_filter(value: i32) -> Result<BanFilter> {
    use pb::BanFilter as P;
    Ok(
        match P::try_from(value).map_err(|_| unknown_enum("filter", value))? {
            P::Unspecified | P::Active => BanFilter::Active,
            P::Expired => BanFilter::Expired,
            P::Lifted => BanFilter::Lifted,
            P::All => BanFilter::All,
        },
    )
}

pub(super) fn bans_fingerprint(filter: BanFilter) -> u64 {
    pages::fingerprint(&["bans", &format!("{filter:?}")])
}

pub fn bans_query(request: pb::ListBansRequest) -> Result<BanQuery> {
    let filter = ban_filter(request.filter)?;
    let after = pages::decode(&request.page_token, bans_fingerprint(filter))?;
    Ok(BanQuery {
        filter,
        limit: paging::page_size(request.page_size, "page_size")?,
        after: after.map(|(banned_at_ms, user_id)| BanPosition {
            banned_at_ms,
            user_id,
        }),
    })
}

impl TryFrom<pb::DeleteUserRequest> for DeleteUserInput {
    type Error = Error;

    fn try_from(request: pb::DeleteUserRequest) -> Result<Self> {
        let options = request.options.unwrap_or_default();
        Ok(Self {
            user_id: user_id(request.user_id, "user_id")?,
            options: DeletionOptions {
                delete_all: options.delete_all,
                mark_messages_deleted: options.mark_messages_deleted,
                hard_delete_posts: options.hard_delete_posts,
                hard_delete_comments: options.hard_delete_comments,
            },
            dry_run: request.dry_run,
            reason: reason(&request.reason)?,
        })
    }
}

pub fn job_id(request: &pb::GetDeletionJobRequest) -> Result<i64> {
    if request.job_id > 0 {
        Ok(request.job_id)
    } else {
        Err(Error::invalid_field(
            "job_id",
            "must be a deletion job id (> 0)",
        ))
    }
}

fn job_state(value: i32) -> Result<Option<JobState>> {
    use pb::DeletionJobState as P;
    Ok(
        match P::try_from(value).map_err(|_| unknown_enum("state", value))? {
            P::Unspecified => None,
            P::Pending => Some(JobState::Pending),
            P::Running => Some(JobState::Running),
            P::Completed => Some(JobState::Completed),
        },
    )
}

pub(super) fn jobs_fingerprint(state: Option<JobState>, user_id: Option<i64>) -> u64 {
    let state = state.map_or("", JobState::as_str);
    let user = user_id.map(|id| id.to_string()).unwrap_or_default();
    pages::fingerprint(&["jobs", state, &user])
}

pub fn jobs_query(request: pb::ListDeletionJobsRequest) -> Result<JobQuery> {
    let state = job_state(request.state)?;
    let user = match request.user_id {
        0 => None,
        id => Some(user_id(id, "user_id")?),
    };
    let after = pages::decode(&request.page_token, jobs_fingerprint(state, user))?;
    Ok(JobQuery {
        state,
        user_id: user,
        limit: paging::page_size(request.page_size, "page_size")?,
        before_id: after.map(|(_, id)| id),
    })
}

fn audit_action(value: i32) -> Result<Option<AuditAction>> {
    use pb::AuditAction as P;
    Ok(
        match P::try_from(value).map_err(|_| unknown_enum("action", value))? {
            P::Unspecified => None,
            P::FlagUser => Some(AuditAction::FlagUser),
            P::UnflagUser => Some(AuditAction::UnflagUser),
            P::ClearFlags => Some(AuditAction::ClearFlags),
            P::BanUser => Some(AuditAction::BanUser),
            P::UnbanUser => Some(AuditAction::UnbanUser),
            P::DeleteUser => Some(AuditAction::DeleteUser),
            P::GrantRole => Some(AuditAction::GrantRole),
            P::RevokeRole => Some(AuditAction::RevokeRole),
        },
    )
}

pub(super) fn audit_fingerprint(query: &AuditQuery) -> u64 {
    let text = |v: Option<String>| v.unwrap_or_default();
    pages::fingerprint(&[
        "audit",
        &text(query.target_user_id.map(|id| id.to_string())),
        query.actor.as_deref().unwrap_or_default(),
        query.action.map_or("", AuditAction::as_str),
        &text(query.start.map(|t| t.timestamp_millis().to_string())),
        &text(query.end.map(|t| t.timestamp_millis().to_string())),
    ])
}

pub fn audit_query(request: pb::ListAuditEntriesRequest) -> Result<AuditQuery> {
    let target_user_id = match request.target_user_id {
        0 => None,
        id => Some(user_id(id, "target_user_id")?),
    };
    if request.actor.chars().count() > MAX_ACTOR_CHARS {
        return Err(Error::invalid_field(
            "actor",
            format!("must be at most {MAX_ACTOR_CHARS} characters"),
        ));
    }
    let start = request
        .start_time
        .as_ref()
        .map(|t| time_from("start_time", t))
        .transpose()?;
    let end = request
        .end_time
        .as_ref()
        .map(|t| time_from("end_time", t))
        .transpose()?;
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        return Err(Error::invalid_field("end_time", "must be after start_time"));
    }
    let mut query = AuditQuery {
        target_user_id,
        actor: (!request.actor.is_empty()).then_some(request.actor),
        action: audit_action(request.action)?,
        start,
        end,
        limit: paging::page_size(request.page_size, "page_size")?,
        after: None,
    };
    query.after = pages::decode(&request.page_token, audit_fingerprint(&query))?
        .map(|(occurred_at_ms, id)| AuditPosition { occurred_at_ms, id });
    Ok(query)
}
