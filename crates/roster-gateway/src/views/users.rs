//! Users as JSON: the user record with its HAL links, presence, avatars,
//! sessions and user events.

use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Hrefs, JsonObject, Link, files::File, json_object, time};

/// PERSON or BOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserType {
    Person,
    Bot,
}

impl UserType {
    pub fn from_proto(raw: i32) -> Self {
        match pb::UserType::try_from(raw) {
            Ok(pb::UserType::Bot) => Self::Bot,
            _ => Self::Person,
        }
    }

    pub fn to_proto(self) -> pb::UserType {
        match self {
            Self::Person => pb::UserType::Person,
            Self::Bot => pb::UserType::Bot,
        }
    }
}

/// Whether the user can take a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallStatus {
    Available,
    InCall,
}

impl CallStatus {
    pub fn from_proto(raw: i32) -> Self {
        match pb::CallStatus::try_from(raw) {
            Ok(pb::CallStatus::InCall) => Self::InCall,
            _ => Self::Available,
        }
    }

    pub fn to_proto(self) -> pb::CallStatus {
        match self {
            Self::Available => pb::CallStatus::Available,
            Self::InCall => pb::CallStatus::InCall,
        }
    }
}

/// Online flag and status word, as the user's client reports them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Presence {
    /// Upper-case status word, e.g. "AVAILABLE", "AWAY"; "UNAVAILABLE" for new users.
    pub status: String,
    pub online: bool,
}

impl From<Option<pb::Presence>> for Presence {
    fn from(presence: Option<pb::Presence>) -> Self {
        let presence = presence.unwrap_or_default();
        Self {
            status: presence.status,
            online: presence.online,
        }
    }
}

/// A picture hosted outside Roster, as the client described it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalPicture {
    /// http or https URL, at most 2048 characters.
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl From<pb::ExternalPicture> for ExternalPicture {
    fn from(picture: pb::ExternalPicture) -> Self {
        Self {
            url: picture.url,
            name: picture.name,
            content_type: picture.content_type,
            size: picture.size,
        }
    }
}

impl From<ExternalPicture> for pb::ExternalPicture {
    fn from(picture: ExternalPicture) -> Self {
        Self {
            url: picture.url,
            name: picture.name,
            content_type: picture.content_type,
            size: picture.size,
        }
    }
}

/// A user's picture: an uploaded file (by id) or an external picture; exactly one is set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Avatar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalPicture>,
}

impl Avatar {
    fn from_proto(avatar: pb::Avatar) -> Option<Self> {
        use pb::avatar::Source;
        match avatar.source? {
            Source::FileId(id) => Some(Self {
                file_id: Some(id),
                external: None,
            }),
            Source::External(picture) => Some(Self {
                file_id: None,
                external: Some(picture.into()),
            }),
        }
    }

    pub fn to_proto(self) -> pb::Avatar {
        use pb::avatar::Source;
        pb::Avatar {
            source: match (self.file_id, self.external) {
                (Some(id), _) => Some(Source::FileId(id)),
                (None, Some(picture)) => Some(Source::External(picture.into())),
                (None, None) => None,
            },
        }
    }
}

/// The links of a user resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    /// The picture itself (what `displayPictureUrl` says); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_picture: Option<Link>,
    /// The avatar resource: describe it (GET), set it (PUT), remove it (DELETE).
    pub avatar: Link,
    /// The user's role grants.
    pub roles: Link,
    pub presence: Link,
    /// The user's files.
    pub files: Link,
    /// The moderation links the caller may follow.
    #[serde(flatten)]
    pub moderation: ModerationLinks,
}

/// Moderation affordances, each present only when the caller may use it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModerationLinks {
    /// The caller's flag on this user: PUT raises it, DELETE withdraws it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Link>,
    /// Every flag raised against the user (BAN_USER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<Link>,
    /// The user's ban: PUT bans, DELETE lifts (BAN_USER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban: Option<Link>,
    /// DELETE deletes the user, for good (EDIT_USER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<Link>,
}

/// What the caller may do to users, for the links it is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rights {
    /// The calling user, when the caller is one (nobody flags itself).
    pub caller: Option<i64>,
    /// Raise flags (any signed-in caller).
    pub flag: bool,
    /// BAN_USER: see flags, ban and unban.
    pub ban: bool,
    /// EDIT_USER: delete users.
    pub delete: bool,
}

/// A user: identity, profile, presence and moderation state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Server-assigned, never reused.
    pub id: i64,
    /// The unique, immutable user name ("username").
    pub name: String,
    #[serde(rename = "type")]
    pub user_type: UserType,
    pub display_name: String,
    pub description: String,
    /// What the user's picture is; absent when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
    /// URL of the picture (the external URL, or the uploaded file's URL); empty without one.
    pub display_picture_url: String,
    pub is_guest: bool,
    pub presence: Presence,
    pub call_status: CallStatus,
    /// Custom JSON object.
    #[schema(value_type = Object)]
    pub properties: JsonObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Moves with every profile change; also the `ETag`, for `If-Match`.
    pub version: i64,
    pub is_global_banned: bool,
    /// When the global ban stops applying; absent for none, or a permanent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ban_expires_at: Option<DateTime<Utc>>,
    pub flag_count: i64,
    pub is_deleted: bool,
    /// Roles held network-wide (besides the implicit "member").
    pub roles: Vec<String>,
    #[serde(rename = "_links")]
    pub links: UserLinks,
}

impl User {
    pub fn from_proto(user: pb::User, hrefs: &Hrefs) -> Self {
        let id = user.id;
        let links = UserLinks {
            self_: hrefs.link(format_args!("/v1/users/{id}")),
            display_picture: (!user.display_picture_url.is_empty()).then(|| Link {
                href: user.display_picture_url.clone(),
            }),
            avatar: hrefs.link(format_args!("/v1/users/{id}/display-picture")),
            roles: hrefs.link(format_args!("/v1/users/{id}/roles")),
            presence: hrefs.link(format_args!("/v1/users/{id}/presence")),
            files: hrefs.link(format_args!("/v1/users/{id}/files")),
            moderation: ModerationLinks::default(),
        };
        Self {
            id,
            name: user.name,
            user_type: UserType::from_proto(user.r#type),
            display_name: user.display_name,
            description: user.description,
            avatar: user.avatar.and_then(Avatar::from_proto),
            display_picture_url: user.display_picture_url,
            is_guest: user.is_guest,
            presence: user.presence.into(),
            call_status: CallStatus::from_proto(user.call_status),
            properties: json_object(user.properties),
            created_at: time(user.created_at),
            updated_at: time(user.updated_at),
            version: user.version,
            is_global_banned: user.is_global_banned,
            ban_expires_at: time(user.ban_expires_at),
            flag_count: user.flag_count,
            is_deleted: user.is_deleted,
            roles: user.roles,
            links,
        }
    }
}

impl User {
    /// Adds the moderation links `rights` allow on this user.
    pub fn with_rights(mut self, rights: &Rights, hrefs: &Hrefs) -> Self {
        if self.is_deleted {
            return self;
        }
        let id = self.id;
        let links = &mut self.links.moderation;
        if rights.flag && rights.caller != Some(id) {
            links.flag = Some(hrefs.link(format_args!("/v1/users/{id}/flags/me")));
        }
        if rights.ban {
            links.flags = Some(hrefs.link(format_args!("/v1/users/{id}/flags")));
            links.ban = Some(hrefs.link(format_args!("/v1/users/{id}/ban")));
        }
        if rights.delete {
            links.delete = Some(hrefs.link(format_args!("/v1/users/{id}")));
        }
        self
    }
}

/// A user's presence and call status.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    pub user_id: i64,
    pub status: String,
    pub online: bool,
    pub call_status: CallStatus,
}

impl From<&pb::User> for UserPresence {
    fn from(user: &pb::User) -> Self {
        let presence = Presence::from(user.presence.clone());
        Self {
            user_id: user.id,
            status: presence.status,
            online: presence.online,
            call_status: CallStatus::from_proto(user.call_status),
        }
    }
}

/// A user's avatar, resolved: the uploaded file or the external picture.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAvatar {
    /// The uploaded avatar file, with its 64 and 256 px variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<File>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalPicture>,
    /// Empty when the user has no avatar.
    pub display_picture_url: String,
}

impl From<pb::UserAvatar> for UserAvatar {
    fn from(avatar: pb::UserAvatar) -> Self {
        use pb::user_avatar::Source;
        let (file, external) = match avatar.source {
            Some(Source::File(file)) => (Some(File::from(file)), None),
            Some(Source::External(picture)) => (None, Some(picture.into())),
            None => (None, None),
        };
        Self {
            file,
            external,
            display_picture_url: avatar.display_picture_url,
        }
    }
}

/// A new session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: User,
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// True when this login created the user.
    pub created: bool,
    /// Only when this login created a guest: the secret that resumes it (shown once).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub guest_secret: String,
}

impl Session {
    pub fn from_login(response: pb::LoginResponse, hrefs: &Hrefs) -> Self {
        Self {
            user: User::from_proto(response.user.unwrap_or_default(), hrefs),
            access_token: response.access_token,
            expires_at: time(response.expires_at),
            created: response.created,
            guest_secret: response.guest_secret,
        }
    }

    pub fn from_issue(response: pb::IssueUserTokenResponse, hrefs: &Hrefs) -> Self {
        Self {
            user: User::from_proto(response.user.unwrap_or_default(), hrefs),
            access_token: response.access_token,
            expires_at: time(response.expires_at),
            created: false,
            guest_secret: String::new(),
        }
    }
}

/// What changed in a user event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserEventKind {
    Created,
    Updated,
    PresenceChanged,
    TokensRevoked,
    Banned,
    Unbanned,
    Deleted,
    FlagCountChanged,
}

impl UserEventKind {
    pub fn from_proto(raw: i32) -> Self {
        match pb::UserEventKind::try_from(raw) {
            Ok(pb::UserEventKind::Created) => Self::Created,
            Ok(pb::UserEventKind::PresenceChanged) => Self::PresenceChanged,
            Ok(pb::UserEventKind::TokensRevoked) => Self::TokensRevoked,
            Ok(pb::UserEventKind::Banned) => Self::Banned,
            Ok(pb::UserEventKind::Unbanned) => Self::Unbanned,
            Ok(pb::UserEventKind::Deleted) => Self::Deleted,
            Ok(pb::UserEventKind::FlagCountChanged) => Self::FlagCountChanged,
            // A kind newer than this gateway: the user changed somehow.
            _ => Self::Updated,
        }
    }

    /// The SSE event name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::PresenceChanged => "presence",
            Self::TokensRevoked => "tokens-revoked",
            Self::Banned => "banned",
            Self::Unbanned => "unbanned",
            Self::Deleted => "deleted",
            Self::FlagCountChanged => "flag-count",
        }
    }
}

/// One committed change of a user (the data of a user event-stream event).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// The event's position; what `Last-Event-ID` resumes after. A live
    /// event's is the last kept event's before it.
    pub cursor: String,
    pub kind: UserEventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// True for a change that is not kept (presence): never replayed on resume.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// The user right after the change.
    pub user: User,
}

impl UserEvent {
    pub fn from_proto(event: pb::UserEvent, hrefs: &Hrefs) -> Self {
        let meta = event.meta.unwrap_or_default();
        Self {
            cursor: meta.cursor,
            kind: UserEventKind::from_proto(event.kind),
            occurred_at: time(meta.occurred_at),
            live: meta.live,
            user: User::from_proto(event.user.unwrap_or_default(), hrefs),
        }
    }
}

/// A presence change (the data of a presence-stream event).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    pub cursor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub presence: UserPresence,
}
