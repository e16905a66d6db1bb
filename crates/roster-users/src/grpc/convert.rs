//! Protobuf ↔ domain conversions. Parsing happens here, at the edge: every
//! request field is validated and named in errors before the domain sees it.

use prost_types::{Struct, Timestamp, Value, value::Kind};
use roster_kit::{Error, FieldViolation};
use roster_proto::v1 as pb;

use crate::domain::{
    Avatar, CallStatus, NewUser, PresenceChange, ProfilePatch, Properties, User, UserKey, UserType,
    fields::{self, Description, DisplayName, PresenceStatus, UserName},
    properties,
};

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn json_from_value(value: Value) -> serde_json::Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(json_from_value).collect())
        }
        Some(Kind::StructValue(object)) => serde_json::Value::Object(json_from_struct(object)),
    }
}

pub fn json_from_struct(object: Struct) -> Properties {
    object
        .fields
        .into_iter()
        .map(|(key, value)| (key, json_from_value(value)))
        .collect()
}

fn value_from_json(value: &serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(value_from_json).collect(),
        }),
        serde_json::Value::Object(object) => Kind::StructValue(struct_from_json(object)),
    };
    Value { kind: Some(kind) }
}

pub fn struct_from_json(object: &Properties) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), value_from_json(value)))
            .collect(),
    }
}

pub fn user_type_to_proto(user_type: UserType) -> pb::UserType {
    match user_type {
        UserType::Person => pb::UserType::Person,
        UserType::Bot => pb::UserType::Bot,
    }
}

fn call_status_to_proto(call_status: CallStatus) -> pb::CallStatus {
    match call_status {
        CallStatus::Available => pb::CallStatus::Available,
        CallStatus::InCall => pb::CallStatus::InCall,
    }
}

/// `unspecified` is what UNSPECIFIED means for this field (`None`: not allowed).
fn parse_user_type(
    raw: i32,
    field: &str,
    unspecified: Option<UserType>,
) -> Result<UserType, FieldViolation> {
    match pb::UserType::try_from(raw) {
        Ok(pb::UserType::Person) => Ok(UserType::Person),
        Ok(pb::UserType::Bot) => Ok(UserType::Bot),
        Ok(pb::UserType::Unspecified) => unspecified
            .ok_or_else(|| FieldViolation::new(field, "must be USER_TYPE_PERSON or USER_TYPE_BOT")),
        Err(_) => Err(FieldViolation::new(
            field,
            format!("unknown user type {raw}"),
        )),
    }
}

fn parse_call_status(raw: i32, field: &str) -> Result<CallStatus, FieldViolation> {
    match pb::CallStatus::try_from(raw) {
        Ok(pb::CallStatus::Available) => Ok(CallStatus::Available),
        Ok(pb::CallStatus::InCall) => Ok(CallStatus::InCall),
        _ => Err(FieldViolation::new(
            field,
            "must be CALL_STATUS_AVAILABLE or CALL_STATUS_IN_CALL",
        )),
    }
}

pub struct UserView<'a> {
    pub user: &'a User,
    pub file_url_base: &'a str,
}

impl From<UserView<'_>> for pb::User {
    fn from(view: UserView<'_>) -> Self {
        let user = view.user;
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
                crate::domain::DELETED_DISPLAY_NAME.to_owned()
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
            is_global_banned: user.is_global_banned,
            flag_count: user.flag_count,
            is_deleted: user.is_deleted,
            roles: user.roles_at(chrono::Utc::now()),
        }
    }
}

/// Collects violations so one error can name every bad field.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    fn absorb(&mut self, err: Error) {
        self.0.extend(err.violations);
    }

    fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(self.0))
        }
    }
}

fn parse_properties(object: Option<Struct>, field: &str) -> Result<Properties, FieldViolation> {
    let object = object.map(json_from_struct).unwrap_or_default();
    properties::check_size(&object, field)?;
    Ok(object)
}

impl TryFrom<pb::CreateUserRequest> for NewUser {
    type Error = Error;

    fn try_from(request: pb::CreateUserRequest) -> Result<Self, Error> {
        let mut violations = Violations::default();
        let name = violations.check(UserName::parse(&request.name, "name"));
        let user_type = violations.check(parse_user_type(
            request.r#type,
            "type",
            Some(UserType::Person),
        ));
        let display_name = if request.display_name.is_empty() {
            None
        } else {
            violations.check(DisplayName::parse(&request.display_name, "display_name"))
        };
        let description = violations.check(Description::parse(&request.description, "description"));
        let properties = violations.check(parse_properties(request.properties, "properties"));
        violations.finish()?;
        match (name, user_type, description, properties) {
            (Some(name), Some(user_type), Some(description), Some(properties)) => Ok(NewUser {
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

pub fn user_key_from_ref(user: Option<pb::UserRef>, field: &str) -> Result<UserKey, Error> {
    match user.and_then(|r| r.r#ref) {
        Some(pb::user_ref::Ref::Id(id)) => key_from_id(id, &format!("{field}.id")),
        Some(pb::user_ref::Ref::Name(name)) => key_from_name(name, &format!("{field}.name")),
        None => Err(Error::invalid_field(field, "must give an id or a name")),
    }
}

pub fn key_from_id(id: i64, field: &str) -> Result<UserKey, Error> {
    if id <= 0 {
        return Err(Error::invalid_field(field, "must be a positive user id"));
    }
    Ok(UserKey::Id(id))
}

pub fn key_from_name(name: String, field: &str) -> Result<UserKey, Error> {
    UserName::parse(&name, field).map_err(|v| Error::invalid(vec![v]))?;
    Ok(UserKey::Name(name))
}

pub fn key_to_ref(key: &UserKey) -> pb::UserRef {
    pb::UserRef {
        r#ref: Some(match key {
            UserKey::Id(id) => pb::user_ref::Ref::Id(*id),
            UserKey::Name(name) => pb::user_ref::Ref::Name(name.clone()),
        }),
    }
}

pub fn avatar_from_proto(avatar: Option<pb::Avatar>, field: &str) -> Result<Option<Avatar>, Error> {
    match avatar.and_then(|a| a.source) {
        None => Ok(None),
        Some(pb::avatar::Source::FileId(file_id)) => {
            fields::parse_file_id(&file_id, &format!("{field}.file_id"))
                .map(|id| Some(Avatar::File(id)))
                .map_err(|v| Error::invalid(vec![v]))
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
                let object = patch.properties.clone().map(json_from_struct).unwrap_or_default();
                result.properties = Some(object);
            }
            "type" => {
                result.user_type = violations.check(parse_user_type(patch.r#type, "patch.type", None));
            }
            other => violations.0.push(FieldViolation::new(
                "update_mask",
                format!("unknown path {other:?}; use display_name, description, avatar, properties or type"),
            )),
        }
    }
    violations.finish()?;
    Ok(result)
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

pub fn user_filter(
    filter: Option<pb::UserFilter>,
) -> Result<crate::domain::query::UserFilter, Error> {
    let filter = filter.unwrap_or_default();
    let user_type = match filter.r#type {
        Some(raw) => {
            Some(parse_user_type(raw, "filter.type", None).map_err(|v| Error::invalid(vec![v]))?)
        }
        None => None,
    };
    Ok(crate::domain::query::UserFilter {
        user_type,
        is_guest: filter.is_guest,
        is_deleted: filter.is_deleted,
        is_global_banned: filter.is_global_banned,
        is_flagged: filter.is_flagged,
    })
}

pub fn user_sort(raw: i32) -> Result<crate::domain::query::UserSort, Error> {
    use crate::domain::query::UserSort;
    match pb::UserSort::try_from(raw) {
        Ok(pb::UserSort::DisplayName) => Ok(UserSort::DisplayName),
        Ok(pb::UserSort::FirstCreated) => Ok(UserSort::FirstCreated),
        Ok(pb::UserSort::LastCreated) => Ok(UserSort::LastCreated),
        Err(_) => Err(Error::invalid_field("sort", format!("unknown sort {raw}"))),
    }
}

pub fn event_kind_to_proto(kind: crate::domain::UserEventKind) -> pb::UserEventKind {
    use crate::domain::UserEventKind;
    match kind {
        UserEventKind::Created => pb::UserEventKind::Created,
        UserEventKind::Updated => pb::UserEventKind::Updated,
        UserEventKind::PresenceChanged => pb::UserEventKind::PresenceChanged,
        UserEventKind::TokensRevoked => pb::UserEventKind::TokensRevoked,
    }
}
