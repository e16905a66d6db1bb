//! Requests → validated domain values. Every invalid field becomes a
//! violation naming it (INVALID_ARGUMENT), never a panic.

use std::{net::IpAddr, time::Duration};

use prost_types::Struct;
use roster_kit::{Actor, Error, FieldViolation, paging};
use roster_proto::v1 as pb;

use super::{Violations, invalid, parse_call_status, parse_user_type, properties_from_struct};
use crate::domain::{
    Avatar, LoginRequest, NewUser, PresenceChange, ProfilePatch, Properties, UserKey, UserType,
    fields::{self, Description, DisplayName, PresenceStatus, UserName},
    login::{GuestSecret, LoginCredential},
    properties,
    query::{UserFilter, UserQuery, UserSort},
};

fn parse_properties(object: Option<Struct>, field: &str) -> Result<Properties, FieldViolation> {
    let object = match object {
        Some(object) => properties_from_struct(object, field)?,
        None => Properties::new(),
    };
    properties::check_limits(&object, field)?;
    Ok(object)
}

fn optional_display_name(raw: &str, field: &str) -> Result<Option<DisplayName>, FieldViolation> {
    if raw.is_empty() {
        return Ok(None);
    }
    DisplayName::parse(raw, field).map(Some)
}

impl TryFrom<pb::CreateUserRequest> for NewUser {
    type Error = Error;

    fn try_from(request: pb::CreateUserRequest) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let name = violations.check(UserName::parse_new(&request.name, "name"));
        let user_type = violations.check(parse_user_type(
            request.r#type,
            "type",
            Some(UserType::Person),
        ));
        let display_name =
            violations.check(optional_display_name(&request.display_name, "display_name"));
        let description = violations.check(Description::parse(&request.description, "description"));
        let properties = violations.check(parse_properties(request.properties, "properties"));
        violations.finish()?;
        match (name, user_type, display_name, description, properties) {
            (
                Some(name),
                Some(user_type),
                Some(display_name),
                Some(description),
                Some(properties),
            ) => Ok(NewUser {
                display_name: display_name.unwrap_or_else(|| DisplayName::from_name(&name)),
                name,
                user_type,
                description,
                is_guest: request.is_guest,
                properties,
            }),
            _ => Err(Error::internal("validation passed without values")),
        }
    }
}

/// A Login call: its fields, the caller of a valid token sent with it, and
/// the client's address.
pub fn login_request(
    request: pb::LoginRequest,
    caller: Option<Actor>,
    client_address: Option<IpAddr>,
) -> Result<LoginRequest, Error> {
    let mut violations = Violations::default();
    let name = if request.name.is_empty() && request.guest {
        None
    } else {
        violations.check(UserName::parse(&request.name, "name"))
    };
    let display_name = violations
        .check(optional_display_name(&request.display_name, "display_name"))
        .flatten();
    let credential = violations
        .check(LoginCredential::parse(
            &request.auth_token,
            request.auth_expires_at,
        ))
        .flatten();
    let guest_secret = violations
        .check(GuestSecret::parse(&request.guest_secret, "guest_secret"))
        .flatten();
    if request.guest && credential.is_some() {
        violations.push(
            "auth_token",
            "is for native logins; a guest is resumed with guest_secret",
        );
    }
    if !request.guest && guest_secret.is_some() {
        violations.push("guest_secret", "is only for guest logins (guest = true)");
    }
    violations.finish()?;
    Ok(LoginRequest {
        name,
        display_name,
        guest: request.guest,
        credential,
        guest_secret,
        caller,
        client_address,
    })
}

/// Who IssueUserToken is for, with what display name, for how long.
pub fn issue_token_request(
    request: &pb::IssueUserTokenRequest,
) -> Result<(UserName, Option<DisplayName>, Option<Duration>), Error> {
    let mut violations = Violations::default();
    let name = violations.check(UserName::parse(&request.name, "name"));
    let display_name = violations
        .check(optional_display_name(&request.display_name, "display_name"))
        .flatten();
    violations.finish()?;
    let name = name.ok_or_else(|| Error::internal("validation passed without a name"))?;
    let ttl =
        (request.ttl_seconds > 0).then(|| Duration::from_secs(u64::from(request.ttl_seconds)));
    Ok((name, display_name, ttl))
}

pub fn get_user_key(request: pb::GetUserRequest) -> Result<UserKey, Error> {
    match request.user {
        Some(pb::get_user_request::User::Id(id)) => key_from_id(id, "id"),
        Some(pb::get_user_request::User::Name(name)) => key_from_name(name, "name"),
        None => Err(Error::invalid_field("id", "give an id or a name")),
    }
}

/// The ids and names of a BatchGetUsers call, each checked.
pub fn batch_keys(request: pb::BatchGetUsersRequest) -> Result<(Vec<i64>, Vec<String>), Error> {
    let mut violations = Violations::default();
    for (index, id) in request.ids.iter().enumerate() {
        if let Err(err) = key_from_id(*id, &format!("ids[{index}]")) {
            violations.absorb(err);
        }
    }
    for (index, name) in request.names.iter().enumerate() {
        violations.check(UserName::parse(name, &format!("names[{index}]")));
    }
    violations.finish()?;
    Ok((request.ids, request.names))
}

pub fn user_key_from_ref(user: Option<pb::UserRef>, field: &str) -> Result<UserKey, Error> {
    match user.and_then(|r| r.r#ref) {
        Some(pb::user_ref::Ref::Id(id)) => key_from_id(id, &format!("{field}.id")),
        Some(pb::user_ref::Ref::Name(name)) => key_from_name(name, &format!("{field}.name")),
        None => Err(Error::invalid_field(field, "must give an id or a name")),
    }
}

pub fn key_from_id(id: i64, field: &str) -> Result<UserKey, Error> {
    user_id(id, field).map(UserKey::Id)
}

/// A user id as requests give it: positive.
pub fn user_id(id: i64, field: &str) -> Result<i64, Error> {
    if id <= 0 {
        return Err(Error::invalid_field(field, "must be a positive user id"));
    }
    Ok(id)
}

pub fn key_from_name(name: String, field: &str) -> Result<UserKey, Error> {
    UserName::parse(&name, field).map_err(invalid)?;
    Ok(UserKey::Name(name))
}

pub fn avatar_from_proto(avatar: Option<pb::Avatar>, field: &str) -> Result<Option<Avatar>, Error> {
    match avatar.and_then(|a| a.source) {
        None => Ok(None),
        Some(pb::avatar::Source::FileId(file_id)) => {
            fields::parse_file_id(&file_id, &format!("{field}.file_id"))
                .map(|id| Some(Avatar::File(id)))
                .map_err(invalid)
        }
        Some(pb::avatar::Source::External(picture)) => fields::parse_external_picture(
            &picture.url,
            &picture.name,
            &picture.content_type,
            picture.size,
            &format!("{field}.external"),
        )
        .map(Some),
    }
}

/// Whom an UpdateUser call changes, how, and at which expected version.
pub fn update_request(
    request: pb::UpdateUserRequest,
) -> Result<(UserKey, ProfilePatch, Option<i64>), Error> {
    let key = user_key_from_ref(request.user, "user")?;
    let patch = profile_patch(request.update_mask, request.patch)?;
    if request.expected_version < 0 {
        return Err(Error::invalid_field(
            "expected_version",
            "must not be negative",
        ));
    }
    let expected_version = (request.expected_version > 0).then_some(request.expected_version);
    Ok((key, patch, expected_version))
}

/// The patch named by `update_mask`; fields outside the mask are ignored.
pub fn profile_patch(
    mask: Option<prost_types::FieldMask>,
    patch: Option<pb::UserPatch>,
) -> Result<ProfilePatch, Error> {
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid_field(
            "update_mask",
            "must name at least one of display_name, description, avatar, properties, type",
        ));
    }
    let patch = patch.unwrap_or_default();
    let mut violations = Violations::default();
    let mut result = ProfilePatch::default();
    for path in &paths {
        match path.as_str() {
            "display_name" => {
                result.display_name =
                    violations.check(DisplayName::parse(&patch.display_name, "patch.display_name"));
            }
            "description" => {
                result.description =
                    violations.check(Description::parse(&patch.description, "patch.description"));
            }
            "avatar" => match avatar_from_proto(patch.avatar.clone(), "patch.avatar") {
                Ok(avatar) => result.avatar = Some(avatar),
                Err(err) => violations.absorb(err),
            },
            "properties" => {
                let object = patch.properties.clone().unwrap_or_default();
                result.properties =
                    violations.check(properties_from_struct(object, "patch.properties"));
            }
            "type" => {
                result.user_type = violations.check(parse_user_type(patch.r#type, "patch.type", None));
            }
            other => violations.push(
                "update_mask",
                format!("unknown path {other:?}; use display_name, description, avatar, properties or type"),
            ),
        }
    }
    violations.finish()?;
    Ok(result)
}

/// Whose presence a SetPresence call sets (`None`: the caller's), and how.
pub fn presence_request(
    request: pb::SetPresenceRequest,
) -> Result<(Option<UserKey>, PresenceChange), Error> {
    let change = presence_change(&request)?;
    let key = match request.user {
        Some(user) => Some(user_key_from_ref(Some(user), "user")?),
        None => None,
    };
    Ok((key, change))
}

pub fn presence_change(request: &pb::SetPresenceRequest) -> Result<PresenceChange, Error> {
    let mut violations = Violations::default();
    let status = match &request.status {
        Some(raw) => violations.check(PresenceStatus::parse(raw, "status")),
        None => None,
    };
    let call_status = match request.call_status {
        Some(raw) => violations.check(parse_call_status(raw, "call_status")),
        None => None,
    };
    violations.finish()?;
    let change = PresenceChange {
        status,
        online: request.online,
        call_status,
    };
    if change.status.is_none() && change.online.is_none() && change.call_status.is_none() {
        return Err(Error::invalid_field(
            "status",
            "at least one of status, online, call_status must be set",
        ));
    }
    Ok(change)
}

/// A QueryUsers call as a query, resumed after its page token.
pub fn user_query(request: pb::QueryUsersRequest) -> Result<UserQuery, Error> {
    let mut query = UserQuery {
        keyword: fields::parse_keyword(&request.keyword, "keyword").map_err(invalid)?,
        sort: user_sort(request.sort)?,
        filter: user_filter(request.filter)?,
        limit: paging::page_size(request.page_size, "page_size")?,
        after: None,
    };
    query.resume_from(&request.page_token, "page_token")?;
    Ok(query)
}

pub fn user_filter(filter: Option<pb::UserFilter>) -> Result<UserFilter, Error> {
    let filter = filter.unwrap_or_default();
    let user_type = match filter.r#type {
        Some(raw) => Some(parse_user_type(raw, "filter.type", None).map_err(invalid)?),
        None => None,
    };
    Ok(UserFilter {
        user_type,
        is_guest: filter.is_guest,
        is_deleted: filter.is_deleted,
        is_global_banned: filter.is_global_banned,
        is_flagged: filter.is_flagged,
    })
}

pub fn user_sort(raw: i32) -> Result<UserSort, Error> {
    match pb::UserSort::try_from(raw) {
        Ok(pb::UserSort::Unspecified | pb::UserSort::DisplayName) => Ok(UserSort::DisplayName),
        Ok(pb::UserSort::FirstCreated) => Ok(UserSort::FirstCreated),
        Ok(pb::UserSort::LastCreated) => Ok(UserSort::LastCreated),
        Err(_) => Err(Error::invalid_field("sort", format!("unknown sort {raw}"))),
    }
}

/// Where a WatchUserEvents call starts: after a cursor, or now (`None`).
pub fn watch_cursor(request: &pb::WatchUserEventsRequest) -> Result<Option<i64>, Error> {
    roster_kit::events::watch_start(&request.after_cursor, request.from_now)
}
