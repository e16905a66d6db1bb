//! Domain values → responses.

use prost::Message;
use roster_kit::{Error, keys::KeySet};
use roster_proto::v1 as pb;

use super::{call_status_to_proto, struct_from_json, timestamp, user_type_to_proto};
use crate::domain::{
    Avatar, DELETED_DISPLAY_NAME, LivePresence, LoginOutcome, User, UserEvent, UserEventKind,
    UserKey, avatars::ResolvedAvatar,
};

/// A user as clients see it; display picture URLs of uploaded avatars point
/// under `file_url_base`.
pub struct UserView<'a> {
    pub user: &'a User,
    pub file_url_base: &'a str,
}

impl From<UserView<'_>> for pb::User {
    fn from(view: UserView<'_>) -> Self {
        let user = view.user;
        let now = chrono::Utc::now();
        let banned = user.is_banned_at(now);
        let (avatar, display_picture_url) = match &user.avatar {
            None => (None, String::new()),
            Some(Avatar::File(file_id)) => (
                Some(pb::avatar::Source::FileId(file_id.clone())),
                format!("{}/{}", view.file_url_base.trim_end_matches('/'), file_id),
            ),
            Some(Avatar::External(picture)) => (
                Some(pb::avatar::Source::External(pb::ExternalPicture {
                    url: picture.url.clone(),
                    name: picture.name.clone().unwrap_or_default(),
                    content_type: picture.content_type.clone().unwrap_or_default(),
                    size: picture.size.unwrap_or_default(),
                })),
                picture.url.clone(),
            ),
        };
        pb::User {
            id: user.id,
            name: user.name.clone(),
            r#type: user_type_to_proto(user.user_type).into(),
            display_name: if user.is_deleted {
                DELETED_DISPLAY_NAME.to_owned()
            } else {
                user.display_name.clone()
            },
            description: user.description.clone(),
            avatar: avatar.map(|source| pb::Avatar {
                source: Some(source),
            }),
            display_picture_url,
            is_guest: user.is_guest,
            presence: Some(pb::Presence {
                status: user.presence.status.clone(),
                online: user.presence.online,
            }),
            call_status: call_status_to_proto(user.call_status).into(),
            properties: Some(struct_from_json(&user.properties)),
            created_at: Some(timestamp(user.created_at)),
            updated_at: Some(timestamp(user.updated_at)),
            version: user.version,
            is_global_banned: banned,
            ban_expires_at: banned
                .then_some(user.ban_expires_at_ms)
                .flatten()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(timestamp),
            flag_count: user.flag_count,
            is_deleted: user.is_deleted,
            roles: user.roles_at(now),
        }
    }
}

pub fn key_to_ref(key: &UserKey) -> pb::UserRef {
    pb::UserRef {
        r#ref: Some(match key {
            UserKey::Id(id) => pb::user_ref::Ref::Id(*id),
            UserKey::Name(name) => pb::user_ref::Ref::Name(name.clone()),
        }),
    }
}

pub fn login_response(outcome: LoginOutcome, user: pb::User) -> pb::LoginResponse {
    pb::LoginResponse {
        user: Some(user),
        access_token: outcome.token.token,
        expires_at: Some(timestamp(outcome.token.expires_at)),
        created: outcome.created,
        guest_secret: outcome
            .guest_secret
            .map(|secret| secret.expose().to_owned())
            .unwrap_or_default(),
    }
}

pub fn issue_token_response(outcome: LoginOutcome, user: pb::User) -> pb::IssueUserTokenResponse {
    pb::IssueUserTokenResponse {
        user: Some(user),
        access_token: outcome.token.token,
        expires_at: Some(timestamp(outcome.token.expires_at)),
    }
}

/// `user` is the view of the avatar's owner.
pub fn avatar_view(user: &pb::User, resolved: &ResolvedAvatar) -> Result<pb::UserAvatar, Error> {
    let external = user.avatar.as_ref().and_then(|a| match &a.source {
        Some(pb::avatar::Source::External(picture)) => Some(picture.clone()),
        _ => None,
    });
    let source = match resolved {
        ResolvedAvatar::File(Some(found)) => Some(pb::user_avatar::Source::File(
            pb::File::decode(found.description.as_slice()).map_err(Error::internal)?,
        )),
        ResolvedAvatar::External => external.map(pb::user_avatar::Source::External),
        ResolvedAvatar::File(None) | ResolvedAvatar::None => None,
    };
    Ok(pb::UserAvatar {
        source,
        display_picture_url: user.display_picture_url.clone(),
    })
}

pub fn event_kind_to_proto(kind: UserEventKind) -> pb::UserEventKind {
    match kind {
        UserEventKind::Created => pb::UserEventKind::Created,
        UserEventKind::Updated => pb::UserEventKind::Updated,
        UserEventKind::PresenceChanged => pb::UserEventKind::PresenceChanged,
        UserEventKind::TokensRevoked => pb::UserEventKind::TokensRevoked,
        UserEventKind::Banned => pb::UserEventKind::Banned,
        UserEventKind::Unbanned => pb::UserEventKind::Unbanned,
        UserEventKind::Deleted => pb::UserEventKind::Deleted,
        UserEventKind::FlagCountChanged => pb::UserEventKind::FlagCountChanged,
    }
}

pub fn event_view(event: &UserEvent, file_url_base: &str) -> pb::UserEvent {
    pb::UserEvent {
        meta: Some(
            event
                .origin
                .meta(event.sequence, timestamp(event.occurred_at)),
        ),
        kind: event_kind_to_proto(event.kind).into(),
        user: Some(
            UserView {
                user: &event.user,
                file_url_base,
            }
            .into(),
        ),
    }
}

/// A live presence change as the event streams deliver it, after the stream's
/// last kept event `cursor` (see `EventMeta.live`).
pub fn live_presence_view(
    change: &LivePresence,
    cursor: i64,
    file_url_base: &str,
) -> pb::UserEvent {
    let mut meta = change.origin.meta(cursor, timestamp(change.at));
    meta.live = true;
    pb::UserEvent {
        meta: Some(meta),
        kind: pb::UserEventKind::PresenceChanged.into(),
        user: Some(
            UserView {
                user: &change.user,
                file_url_base,
            }
            .into(),
        ),
    }
}

/// The session keys as a JSON Web Key Set document and as entries.
pub fn jwks_view(keys: &KeySet) -> Result<pb::GetJwksResponse, Error> {
    Ok(pb::GetJwksResponse {
        jwks_json: serde_json::to_string(keys).map_err(Error::internal)?,
        keys: keys
            .keys
            .iter()
            .map(|key| pb::JsonWebKey {
                kid: key.kid.clone(),
                kty: key.kty.clone(),
                crv: key.crv.clone(),
                x: key.x.clone(),
                alg: key.alg.clone(),
                r#use: key.use_.clone(),
            })
            .collect(),
    })
}
