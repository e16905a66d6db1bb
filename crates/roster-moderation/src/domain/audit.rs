//! The audit log: every moderation action with who did it, to whom, why, in
//! which request and when. Entries carry user ids, never names or profiles.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use roster_kit::Result;

use super::{Caller, Moderation, Page, access::permissions};

/// The role service's event stream, as a source of audit entries.
pub const ROLE_STREAM: &str = "roles";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    FlagUser,
    UnflagUser,
    ClearFlags,
    BanUser,
    UnbanUser,
    DeleteUser,
    GrantRole,
    RevokeRole,
}

impl AuditAction {
    pub const ALL: [AuditAction; 8] = [
        AuditAction::FlagUser,
        AuditAction::UnflagUser,
        AuditAction::ClearFlags,
        AuditAction::BanUser,
        AuditAction::UnbanUser,
        AuditAction::DeleteUser,
        AuditAction::GrantRole,
        AuditAction::RevokeRole,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::FlagUser => "FLAG_USER",
            AuditAction::UnflagUser => "UNFLAG_USER",
            AuditAction::ClearFlags => "CLEAR_FLAGS",
            AuditAction::BanUser => "BAN_USER",
            AuditAction::UnbanUser => "UNBAN_USER",
            AuditAction::DeleteUser => "DELETE_USER",
            AuditAction::GrantRole => "GRANT_ROLE",
            AuditAction::RevokeRole => "REVOKE_ROLE",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == stored)
    }
}

/// What to record about an action (the time is the change's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The actor's display string, e.g. "user:42", "admin:platform".
    pub actor: String,
    pub target_user_id: i64,
    pub action: AuditAction,
    pub reason: String,
    pub request_id: String,
    /// Facts of the action (ids, enum names, times); never personal data.
    pub details: BTreeMap<String, String>,
}

impl AuditRecord {
    pub fn new(caller: &Caller, target_user_id: i64, action: AuditAction, reason: &str) -> Self {
        Self {
            actor: caller.label(),
            target_user_id,
            action,
            reason: reason.to_owned(),
            request_id: caller.request_id.clone(),
            details: BTreeMap::new(),
        }
    }

    pub fn detail(mut self, key: &str, value: impl ToString) -> Self {
        self.details.insert(key.to_owned(), value.to_string());
        self
    }
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub record: AuditRecord,
    pub occurred_at: DateTime<Utc>,
}

/// Keyset position in the newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPosition {
    pub occurred_at_ms: i64,
    pub id: i64,
}

impl AuditPosition {
    pub fn of(entry: &AuditEntry) -> Self {
        Self {
            occurred_at_ms: entry.occurred_at.timestamp_millis(),
            id: entry.id,
        }
    }
}

/// ListAuditEntries, parsed. `None` filters match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    pub target_user_id: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// Inclusive lower bound.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub end: Option<DateTime<Utc>>,
    pub limit: u64,
    pub after: Option<AuditPosition>,
}

/// A role grant or revoke seen on the role service's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub granted: bool,
    pub user_id: i64,
    pub role: String,
    /// e.g. "network", "channel:general".
    pub scope: String,
    /// Who made the change, as the role service reports it.
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    /// The role event's cursor (a sequence number).
    pub cursor: i64,
}

impl Moderation {
    /// ListAuditEntries: needs BAN_USER.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>> {
        self.require(caller, permissions::BAN_USER).await?;
        let rows = self.repo.list_audit(query).await?;
        Ok(Page::from_overfetch(rows, query.limit))
    }

    /// Records a role grant or revoke from the role event stream, once: a
    /// replayed event (cursor already consumed) is skipped. Returns whether it
    /// was recorded.
    pub async fn record_role_change(&self, change: RoleChange) -> Result<bool> {
        let through = change.cursor;
        Ok(self.record_role_changes(vec![change], through).await? > 0)
    }

    /// Records the grants and revokes of the role event stream up to its
    /// cursor `through` (other events in between are no moderation action),
    /// each once. Returns how many were recorded.
    pub async fn record_role_changes(
        &self,
        changes: Vec<RoleChange>,
        through: i64,
    ) -> Result<usize> {
        let actions = changes.into_iter().map(role_action).collect();
        self.repo
            .record_external_actions(ROLE_STREAM, through, actions)
            .await
    }

    /// Where to resume following the role event stream.
    pub async fn role_stream_position(&self) -> Result<i64> {
        self.repo.stream_position(ROLE_STREAM).await
    }
}

/// An action seen at `position` of another service's event stream, for the
/// audit log.
#[derive(Debug, Clone)]
pub struct ExternalAction {
    pub position: i64,
    pub record: AuditRecord,
    pub at: DateTime<Utc>,
}

/// The audit log's record of a role change.
fn role_action(change: RoleChange) -> ExternalAction {
    let action = if change.granted {
        AuditAction::GrantRole
    } else {
        AuditAction::RevokeRole
    };
    ExternalAction {
        position: change.cursor,
        at: change.occurred_at,
        record: AuditRecord {
            actor: change.actor,
            target_user_id: change.user_id,
            action,
            reason: String::new(),
            request_id: String::new(),
            details: BTreeMap::from([
                ("role".to_owned(), change.role),
                ("scope".to_owned(), change.scope),
                ("role_event_cursor".to_owned(), change.cursor.to_string()),
            ]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_by_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("DROP_TABLE"), None);
    }
}
