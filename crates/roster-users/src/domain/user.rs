//! The user record and the validated values that create and change it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    fields::{Description, DisplayName, PresenceStatus, UserName},
    roles::NetworkRole,
};

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

/// A stored user. Serialised into the outbox as the payload of its events, so
/// it carries nothing secret (a guest's secret hash stays in the store).
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
    /// A global ban was placed and not lifted; see [`User::is_banned_at`].
    pub is_global_banned: bool,
    /// When that ban ends (Unix ms); `None`: never.
    #[serde(default)]
    pub ban_expires_at_ms: Option<i64>,
    pub flag_count: i64,
    pub is_deleted: bool,
    pub token_generation: i64,
    /// Network-wide role grants, as projected from the role service's events.
    #[serde(default)]
    pub network_roles: Vec<NetworkRole>,
}

impl User {
    /// Whether a global ban is in force at `now`: an expired ban stops applying
    /// at its expiry by itself.
    pub fn is_banned_at(&self, now: DateTime<Utc>) -> bool {
        self.is_global_banned
            && self
                .ban_expires_at_ms
                .is_none_or(|until| until > now.timestamp_millis())
    }

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

/// A validated user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserName,
    pub user_type: UserType,
    pub display_name: DisplayName,
    pub description: Description,
    pub is_guest: bool,
    pub properties: Properties,
}

/// A validated change of profile fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub display_name: Option<DisplayName>,
    pub description: Option<Description>,
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
    pub status: Option<PresenceStatus>,
    pub online: Option<bool>,
    pub call_status: Option<CallStatus>,
}

/// How a caller names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(i64),
    Name(String),
}

/// A plain user for unit tests.
/// A change of a user's moderation state, from the moderation service's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModerationChange {
    /// Banned (or the ban changed); `until_ms`: when it ends, `None` for never.
    Banned { until_ms: Option<i64> },
    /// The ban was lifted.
    Unbanned,
    /// The user's flag count is now this.
    FlagCount(i64),
}

impl ModerationChange {
    /// Applies the change to `user`.
    pub fn apply(&self, user: &mut User) {
        match self {
            ModerationChange::Banned { until_ms } => {
                user.is_global_banned = true;
                user.ban_expires_at_ms = *until_ms;
            }
            ModerationChange::Unbanned => {
                user.is_global_banned = false;
                user.ban_expires_at_ms = None;
            }
            ModerationChange::FlagCount(count) => user.flag_count = (*count).max(0),
        }
    }
}

#[cfg(test)]
pub(crate) fn test_user() -> User {
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
        ban_expires_at_ms: None,
        flag_count: 0,
        is_deleted: false,
        token_generation: 0,
        network_roles: Vec::new(),
    }
}
