//! The user domain: the user record, its validation rules and the operations
//! on it. Nothing here knows about protobuf or SQL.

mod directory;
pub mod fields;
pub mod login;
pub mod properties;
pub mod query;
pub mod sort_key;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use directory::{AvatarFiles, Collaborators, Directory, LoginOutcome, LoginRequest};

pub type Properties = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserType {
    Person,
    Bot,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Person => "PERSON",
            UserType::Bot => "BOT",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PERSON" => Some(UserType::Person),
            "BOT" => Some(UserType::Bot),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallStatus {
    Available,
    InCall,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Available => "AVAILABLE",
            CallStatus::InCall => "IN_CALL",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "AVAILABLE" => Some(CallStatus::Available),
            "IN_CALL" => Some(CallStatus::InCall),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalPicture {
    pub url: String,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Avatar {
    File(String),
    External(ExternalPicture),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub status: String,
    pub online: bool,
}

pub const DEFAULT_PRESENCE_STATUS: &str = "UNAVAILABLE";
pub const DELETED_DISPLAY_NAME: &str = "Deleted User";

/// A stored user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub user_type: UserType,
    pub display_name: String,
    pub description: String,
    pub avatar: Option<Avatar>,
    pub is_guest: bool,
    pub presence: Presence,
    pub call_status: CallStatus,
    pub properties: Properties,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub is_global_banned: bool,
    pub flag_count: i64,
    pub is_deleted: bool,
    pub token_generation: i64,
    /// Network-wide role grants, as projected from the role service's events.
    #[serde(default)]
    pub network_roles: Vec<NetworkRole>,
}

impl User {
    /// Names of the network roles still in force at `now`.
    pub fn roles_at(&self, now: DateTime<Utc>) -> Vec<String> {
        let now_ms = now.timestamp_millis();
        self.network_roles
            .iter()
            .filter(|grant| grant.expires_at_ms.is_none_or(|at| at > now_ms))
            .map(|grant| grant.role.clone())
            .collect()
    }
}

/// Why a session of `user` issued at token `generation` no longer counts:
/// `TOKEN_REVOKED` (revoked, or the user is deleted or unknown) or
/// `USER_BANNED`; `None` while it is valid.
pub fn session_refusal(user: Option<&User>, generation: i64) -> Option<&'static str> {
    match user {
        None => Some("TOKEN_REVOKED"),
        Some(user) if user.is_deleted || user.token_generation != generation => {
            Some("TOKEN_REVOKED")
        }
        Some(user) if user.is_global_banned => Some("USER_BANNED"),
        Some(_) => None,
    }
}

/// A role granted to a user network-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRole {
    pub role: String,
    /// Unix milliseconds after which the grant no longer counts; `None`: never.
    pub expires_at_ms: Option<i64>,
}

/// A change of a user's network roles, from the role service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// Granted, or re-granted with a new expiry.
    Granted(NetworkRole),
    Revoked {
        role: String,
    },
}

impl RoleChange {
    pub fn apply(&self, roles: &mut Vec<NetworkRole>) {
        match self {
            RoleChange::Granted(grant) => {
                roles.retain(|r| r.role != grant.role);
                roles.push(grant.clone());
                roles.sort_by(|a, b| a.role.cmp(&b.role));
            }
            RoleChange::Revoked { role } => roles.retain(|r| &r.role != role),
        }
    }
}

/// A validated user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: fields::UserName,
    pub user_type: UserType,
    pub display_name: fields::DisplayName,
    pub description: fields::Description,
    pub is_guest: bool,
    pub properties: Properties,
}

/// A validated change of profile fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub display_name: Option<fields::DisplayName>,
    pub description: Option<fields::Description>,
    /// `Some(None)` clears the avatar.
    pub avatar: Option<Option<Avatar>>,
    /// Merged into the stored properties (a `null` value removes the key).
    pub properties: Option<Properties>,
    pub user_type: Option<UserType>,
}

impl ProfilePatch {
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none()
            && self.description.is_none()
            && self.avatar.is_none()
            && self.properties.is_none()
            && self.user_type.is_none()
    }
}

/// A validated presence change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PresenceChange {
    pub status: Option<fields::PresenceStatus>,
    pub online: Option<bool>,
    pub call_status: Option<CallStatus>,
}

/// How a caller names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(i64),
    Name(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_changes_replace_remove_and_expire() {
        let mut roles = Vec::new();
        let grant = |role: &str, expires_at_ms| {
            RoleChange::Granted(NetworkRole {
                role: role.into(),
                expires_at_ms,
            })
        };
        grant("super-moderator", None).apply(&mut roles);
        grant("helper", Some(1_000)).apply(&mut roles);
        grant("helper", Some(5_000)).apply(&mut roles);
        assert_eq!(roles.len(), 2);
        let user_roles = |roles: &Vec<NetworkRole>, now_ms| {
            let user = User {
                network_roles: roles.clone(),
                ..test_user()
            };
            user.roles_at(DateTime::from_timestamp_millis(now_ms).unwrap_or_default())
        };
        assert_eq!(user_roles(&roles, 4_000), ["helper", "super-moderator"]);
        assert_eq!(user_roles(&roles, 5_000), ["super-moderator"]);
        RoleChange::Revoked {
            role: "super-moderator".into(),
        }
        .apply(&mut roles);
        assert_eq!(user_roles(&roles, 0), ["helper"]);
    }

    fn test_user() -> User {
        User {
            id: 1,
            name: "n".into(),
            user_type: UserType::Person,
            display_name: "n".into(),
            description: String::new(),
            avatar: None,
            is_guest: false,
            presence: Presence {
                status: DEFAULT_PRESENCE_STATUS.into(),
                online: false,
            },
            call_status: CallStatus::Available,
            properties: Properties::new(),
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
            version: 1,
            is_global_banned: false,
            flag_count: 0,
            is_deleted: false,
            token_generation: 0,
            network_roles: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEventKind {
    Created,
    Updated,
    PresenceChanged,
    TokensRevoked,
}

impl UserEventKind {
    pub fn code(self) -> i16 {
        match self {
            UserEventKind::Created => 1,
            UserEventKind::Updated => 2,
            UserEventKind::PresenceChanged => 3,
            UserEventKind::TokensRevoked => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(UserEventKind::Created),
            2 => Some(UserEventKind::Updated),
            3 => Some(UserEventKind::PresenceChanged),
            4 => Some(UserEventKind::TokensRevoked),
            _ => None,
        }
    }
}

/// One committed change, as read back from the outbox.
#[derive(Debug, Clone)]
pub struct UserEvent {
    pub sequence: i64,
    pub kind: UserEventKind,
    pub user: User,
    pub occurred_at: DateTime<Utc>,
}
