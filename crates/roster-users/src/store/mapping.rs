//! Rows ↔ domain values. A row that does not map is corrupt data: an internal error.

use roster_kit::Error;

use super::entity::{user, user_event};
use crate::domain::{
    Avatar, CallStatus, ExternalPicture, Presence, Properties, User, UserEvent, UserEventKind,
    UserType,
};

pub fn properties_to_text(properties: &Properties) -> Result<String, Error> {
    serde_json::to_string(properties).map_err(Error::internal)
}

fn corrupt(what: &str, id: i64) -> Error {
    Error::internal(format!("stored {what} of user {id} is not valid"))
}

pub fn user_from_row(row: user::Model) -> Result<User, Error> {
    let id = row.id;
    let avatar = match (row.avatar_file_id, row.avatar_url) {
        (Some(file_id), _) => Some(Avatar::File(file_id)),
        (None, Some(url)) => Some(Avatar::External(ExternalPicture {
            url,
            name: row.avatar_name,
            content_type: row.avatar_content_type,
            size: row.avatar_size,
        })),
        (None, None) => None,
    };
    Ok(User {
        id,
        name: row.name,
        user_type: UserType::parse(&row.user_type).ok_or_else(|| corrupt("type", id))?,
        display_name: row.display_name,
        description: row.description,
        avatar,
        is_guest: row.is_guest,
        presence: Presence {
            status: row.presence_status,
            online: row.online,
        },
        call_status: CallStatus::parse(&row.call_status)
            .ok_or_else(|| corrupt("call status", id))?,
        properties: serde_json::from_str(&row.properties).map_err(|_| corrupt("properties", id))?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        is_global_banned: row.is_global_banned,
        ban_expires_at_ms: row.ban_expires_at_ms,
        flag_count: row.flag_count,
        is_deleted: row.is_deleted,
        token_generation: row.token_generation,
        network_roles: serde_json::from_str(&row.network_roles)
            .map_err(|_| corrupt("network roles", id))?,
    })
}

pub fn event_from_row(row: user_event::Model) -> Result<UserEvent, Error> {
    let corrupt_event = || Error::internal(format!("stored user event {} is not valid", row.seq));
    Ok(UserEvent {
        sequence: row.seq,
        kind: UserEventKind::from_code(row.kind).ok_or_else(corrupt_event)?,
        user: serde_json::from_str(&row.payload).map_err(|_| corrupt_event())?,
        occurred_at: row.occurred_at,
        origin: roster_kit::origin::Origin::from_columns(
            "users",
            row.actor,
            row.request_id,
            row.trace_id,
            row.reason,
        ),
    })
}

/// The avatar spread over its nullable columns.
pub struct AvatarColumns {
    pub file_id: Option<String>,
    pub url: Option<String>,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
}

impl From<&Option<Avatar>> for AvatarColumns {
    fn from(avatar: &Option<Avatar>) -> Self {
        let empty = Self {
            file_id: None,
            url: None,
            name: None,
            content_type: None,
            size: None,
        };
        match avatar {
            None => empty,
            Some(Avatar::File(file_id)) => Self {
                file_id: Some(file_id.clone()),
                ..empty
            },
            Some(Avatar::External(picture)) => Self {
                url: Some(picture.url.clone()),
                name: picture.name.clone(),
                content_type: picture.content_type.clone(),
                size: picture.size,
                ..empty
            },
        }
    }
}
