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

pub use directory::{Directory, LoginOutcome, LoginRequest};

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
