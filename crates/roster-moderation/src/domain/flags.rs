//! Flags: a user (or an admin, or a service) reports a user to moderators. One
//! flag per flagger and user; every change emits the user's new absolute flag
//! count, which the user service projects as `flag_count`.

use chrono::{DateTime, Utc};
use roster_kit::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{
    Caller, Moderation, Page,
    access::{self, permissions},
    audit::{AuditAction, AuditRecord},
    fields::{Note, Reason},
    reasons,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub const ALL: [FlagReason; 10] = [
        FlagReason::Spam,
        FlagReason::Harassment,
        FlagReason::HateSpeech,
        FlagReason::Violence,
        FlagReason::SexualContent,
        FlagReason::SelfHarm,
        FlagReason::RestrictedItems,
        FlagReason::Misinformation,
        FlagReason::Impersonation,
        FlagReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::Spam => "SPAM",
            FlagReason::Harassment => "HARASSMENT",
            FlagReason::HateSpeech => "HATE_SPEECH",
            FlagReason::Violence => "VIOLENCE",
            FlagReason::SexualContent => "SEXUAL_CONTENT",
            FlagReason::SelfHarm => "SELF_HARM",
            FlagReason::RestrictedItems => "RESTRICTED_ITEMS",
            FlagReason::Misinformation => "MISINFORMATION",
            FlagReason::Impersonation => "IMPERSONATION",
            FlagReason::Other => "OTHER",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == stored)
    }
}

/// One flagger's flag on one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub id: i64,
    /// The flagged user.
    pub user_id: i64,
    /// The flagger's actor string, e.g. "user:42".
    pub flagger: String,
    pub flagger_user_id: Option<i64>,
    pub reason: FlagReason,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// FlagUser, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagInput {
    pub user_id: i64,
    pub reason: FlagReason,
    pub note: Note,
}

/// A flag to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlag {
    pub user_id: i64,
    pub flagger: String,
    pub flagger_user_id: Option<i64>,
    pub reason: FlagReason,
    pub note: String,
}

/// What FlagUser did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub flag: Flag,
    pub created: bool,
    pub flag_count: i64,
    pub event_seq: i64,
}

/// What UnflagUser did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unflagged {
    pub flag: Flag,
    pub flag_count: i64,
    pub event_seq: i64,
}

/// What ClearFlags did; no event when nothing was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    pub removed: i64,
    pub event_seq: Option<i64>,
}

/// Flags raised by and against one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlagTally {
    pub by_user: i64,
    pub against_user: i64,
}

/// Keyset position in the newest-first order of a user's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagPosition {
    pub created_at_ms: i64,
    pub id: i64,
}

impl FlagPosition {
    pub fn of(flag: &Flag) -> Self {
        Self {
            created_at_ms: flag.created_at.timestamp_millis(),
            id: flag.id,
        }
    }
}

/// ListFlags, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsQuery {
    pub user_id: i64,
    pub limit: u64,
    pub after: Option<FlagPosition>,
}

impl Moderation {
    /// FlagUser: anyone but the target itself; the target must be a live user.
    pub async fn flag_user(&self, caller: &Caller, input: FlagInput) -> Result<FlagChange> {
        access::may_flag(&caller.actor, input.user_id)?;
        self.require_live_user(input.user_id).await?;
        let audit = AuditRecord::new(
            caller,
            input.user_id,
            AuditAction::FlagUser,
            input.note.as_str(),
        )
        .detail("flag_reason", input.reason.as_str());
        let flag = NewFlag {
            user_id: input.user_id,
            flagger: caller.label(),
            flagger_user_id: caller.actor.user_id(),
            reason: input.reason,
            note: input.note.as_str().to_owned(),
        };
        self.repo.upsert_flag(flag, audit, self.now()).await
    }

    /// UnflagUser: withdraws the caller's own flag.
    pub async fn unflag_user(&self, caller: &Caller, user_id: i64) -> Result<Unflagged> {
        let audit = AuditRecord::new(caller, user_id, AuditAction::UnflagUser, "");
        self.repo
            .remove_flag(user_id, &caller.label(), audit, self.now())
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    reasons::FLAG_NOT_FOUND,
                    format!("{} has not flagged user {user_id}", caller.label()),
                )
            })
    }

    /// IsFlaggedByMe: one answer per id, in order.
    pub async fn flagged_by_me(
        &self,
        caller: &Caller,
        user_ids: &[i64],
    ) -> Result<Vec<(i64, bool)>> {
        let flagged = self.repo.flagged_by(&caller.label(), user_ids).await?;
        Ok(user_ids
            .iter()
            .map(|id| (*id, flagged.contains(id)))
            .collect())
    }

    /// ListFlags: needs BAN_USER. Returns the page and the user's flag count.
    pub async fn list_flags(
        &self,
        caller: &Caller,
        query: &FlagsQuery,
    ) -> Result<(Page<Flag>, i64)> {
        self.require(caller, permissions::BAN_USER).await?;
        let rows = self.repo.list_flags(query).await?;
        let count = self.repo.flag_count(query.user_id).await?;
        Ok((Page::from_overfetch(rows, query.limit), count))
    }

    /// ClearFlags: needs BAN_USER.
    pub async fn clear_flags(
        &self,
        caller: &Caller,
        user_id: i64,
        reason: Reason,
    ) -> Result<Cleared> {
        self.require(caller, permissions::BAN_USER).await?;
        let audit = AuditRecord::new(caller, user_id, AuditAction::ClearFlags, reason.as_str());
        self.repo.clear_flags(user_id, audit, self.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_by_name() {
        for reason in FlagReason::ALL {
            assert_eq!(FlagReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(FlagReason::parse("spam"), None);
    }
}
