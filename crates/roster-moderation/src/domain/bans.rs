//! Global bans. A user has at most one ban record: the current ban, or the
//! last one once it expired or was lifted. Whether a ban applies is computed
//! when read, from its expiry and the current time, so an expiring ban ends by
//! itself with no job having to run.

use chrono::{DateTime, Utc};
use roster_kit::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{
    Caller, Moderation, Page,
    access::{self, permissions},
    audit::{AuditAction, AuditRecord},
    fields::Reason,
    reasons,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanState {
    /// In force: not lifted, and permanent or not yet expired.
    Active,
    /// Its expiry has passed.
    Expired,
    /// Lifted by UnbanUser.
    Lifted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub user_id: i64,
    pub reason: String,
    pub banned_by: String,
    pub banned_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `None`: permanent.
    pub expires_at: Option<DateTime<Utc>>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

impl Ban {
    /// Where the ban stands at `now`. A ban applies up to, not including, its
    /// expiry instant.
    pub fn state_at(&self, now: DateTime<Utc>) -> BanState {
        if self.lifted_at.is_some() {
            BanState::Lifted
        } else if self.expires_at.is_some_and(|at| at <= now) {
            BanState::Expired
        } else {
            BanState::Active
        }
    }

    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.state_at(now) == BanState::Active
    }
}

/// BanUser, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanInput {
    pub user_id: i64,
    pub reason: Reason,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A ban to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    pub user_id: i64,
    pub reason: String,
    pub banned_by: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What BanUser did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanChange {
    pub ban: Ban,
    pub created: bool,
    pub event_seq: i64,
}

/// What UnbanUser did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbanned {
    pub ban: Ban,
    pub event_seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanFilter {
    Active,
    Expired,
    Lifted,
    All,
}

impl BanFilter {
    pub fn matches(self, ban: &Ban, now: DateTime<Utc>) -> bool {
        match self {
            BanFilter::All => true,
            BanFilter::Active => ban.state_at(now) == BanState::Active,
            BanFilter::Expired => ban.state_at(now) == BanState::Expired,
            BanFilter::Lifted => ban.state_at(now) == BanState::Lifted,
        }
    }
}

/// Keyset position in the newest-first order of bans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPosition {
    pub banned_at_ms: i64,
    pub user_id: i64,
}

impl BanPosition {
    pub fn of(ban: &Ban) -> Self {
        Self {
            banned_at_ms: ban.banned_at.timestamp_millis(),
            user_id: ban.user_id,
        }
    }
}

/// ListBans, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanQuery {
    pub filter: BanFilter,
    pub limit: u64,
    pub after: Option<BanPosition>,
}

fn ban_not_found(user_id: i64, what: &str) -> Error {
    Error::not_found(
        reasons::BAN_NOT_FOUND,
        format!("user {user_id} has no {what}"),
    )
}

impl Moderation {
    /// BanUser: needs BAN_USER; the target must be a live user not exempt from bans.
    pub async fn ban_user(&self, caller: &Caller, input: BanInput) -> Result<BanChange> {
        self.require(caller, permissions::BAN_USER).await?;
        let now = self.now();
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::invalid_field("expires_at", "must be in the future"));
        }
        self.require_live_user(input.user_id).await?;
        let exempt = self
            .peers
            .roles
            .holds(input.user_id, permissions::EXEMPT_FROM_BAN)
            .await?;
        access::may_ban(input.user_id, exempt)?;
        let mut audit = AuditRecord::new(
            caller,
            input.user_id,
            AuditAction::BanUser,
            input.reason.as_str(),
        );
        if let Some(at) = input.expires_at {
            audit = audit.detail("expires_at", at.to_rfc3339());
        }
        let ban = NewBan {
            user_id: input.user_id,
            reason: input.reason.as_str().to_owned(),
            banned_by: caller.label(),
            expires_at: input.expires_at,
        };
        self.repo.upsert_ban(ban, audit, now).await
    }

    /// UnbanUser: needs BAN_USER; the user must have an active ban.
    pub async fn unban_user(
        &self,
        caller: &Caller,
        user_id: i64,
        reason: Reason,
    ) -> Result<Unbanned> {
        self.require(caller, permissions::BAN_USER).await?;
        let audit = AuditRecord::new(caller, user_id, AuditAction::UnbanUser, reason.as_str());
        self.repo
            .lift_ban(user_id, &caller.label(), reason.as_str(), audit, self.now())
            .await?
            .ok_or_else(|| ban_not_found(user_id, "active ban"))
    }

    /// GetBan: needs BAN_USER.
    pub async fn get_ban(&self, caller: &Caller, user_id: i64) -> Result<Ban> {
        self.require(caller, permissions::BAN_USER).await?;
        self.repo
            .get_ban(user_id)
            .await?
            .ok_or_else(|| ban_not_found(user_id, "ban"))
    }

    /// ListBans: needs BAN_USER. States are those at the time of the call.
    pub async fn list_bans(&self, caller: &Caller, query: &BanQuery) -> Result<Page<Ban>> {
        self.require(caller, permissions::BAN_USER).await?;
        let rows = self.repo.list_bans(query, self.now()).await?;
        Ok(Page::from_overfetch(rows, query.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn ban(expires_at: Option<DateTime<Utc>>, lifted_at: Option<DateTime<Utc>>) -> Ban {
        Ban {
            user_id: 7,
            reason: "spam".into(),
            banned_by: "user:1".into(),
            banned_at: at(0),
            updated_at: at(0),
            expires_at,
            lifted_at,
            lifted_by: lifted_at.map(|_| "user:1".into()),
            lift_reason: None,
        }
    }

    #[test]
    fn an_expiring_ban_applies_until_its_expiry_instant_only() {
        let ban = ban(Some(at(60)), None);
        assert_eq!(ban.state_at(at(0)), BanState::Active);
        assert_eq!(ban.state_at(at(59)), BanState::Active);
        assert_eq!(ban.state_at(at(60)), BanState::Expired);
        assert_eq!(ban.state_at(at(3600)), BanState::Expired);
    }

    #[test]
    fn a_permanent_ban_applies_until_lifted_and_lifting_wins_over_expiry() {
        assert!(ban(None, None).is_active_at(at(1_000_000_000)));
        assert_eq!(ban(None, Some(at(5))).state_at(at(6)), BanState::Lifted);
        assert_eq!(
            ban(Some(at(60)), Some(at(5))).state_at(at(90)),
            BanState::Lifted
        );
    }

    #[test]
    fn filters_select_by_state_at_the_time_asked() {
        let expiring = ban(Some(at(60)), None);
        assert!(BanFilter::Active.matches(&expiring, at(10)));
        assert!(!BanFilter::Expired.matches(&expiring, at(10)));
        assert!(BanFilter::Expired.matches(&expiring, at(61)));
        assert!(!BanFilter::Lifted.matches(&expiring, at(61)));
        assert!(BanFilter::All.matches(&expiring, at(61)));
    }
}
