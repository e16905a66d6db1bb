//! Protobuf ↔ domain conversions. Parsing happens here, at the edge: every
//! request field is validated and named in errors before the domain sees it
//! ([`requests`]); domain values become responses in [`views`].

mod requests;
mod views;

#[cfg(test)]
mod tests;

use prost_types::{Struct, Timestamp, Value, value::Kind};
use roster_kit::{Error, FieldViolation};
use roster_proto::v1 as pb;

use crate::domain::{CallStatus, Properties, UserType};

pub use requests::*;
pub use views::*;

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The largest magnitude below which every integer is a double: 2^53.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A property value as JSON, exactly: a double that is a whole number within
/// ±2^53 becomes a JSON integer (`9007199254740991`, not `9007199254740991.0`:
/// the same number, as a JSON client reads it), any other double stays a double
/// (written in its shortest exact form, read back bit for bit). NaN and the
/// infinities have no JSON form: refused, naming the value's path.
fn json_from_value(value: Value, path: &str) -> Result<serde_json::Value, FieldViolation> {
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::NumberValue(n)) => {
            json_number(n)
                .map(serde_json::Value::Number)
                .ok_or_else(|| {
                    FieldViolation::new(
                        path,
                        "must be a finite number (JSON has no NaN or infinity)",
                    )
                })?
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => serde_json::Value::Array(
            list.values
                .into_iter()
                .enumerate()
                .map(|(index, item)| json_from_value(item, &format!("{path}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(object)) => {
            serde_json::Value::Object(properties_from_struct(object, path)?)
        }
    })
}

fn json_number(n: f64) -> Option<serde_json::Number> {
    let negative_zero = n == 0.0 && n.is_sign_negative();
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER && !negative_zero {
        // Exact: a whole double within ±2^53 is an i64 of the same value.
        #[allow(clippy::cast_possible_truncation)]
        return Some(serde_json::Number::from(n as i64));
    }
    serde_json::Number::from_f64(n)
}

/// A request's properties as JSON (see [`json_from_value`]); `field` names the
/// object in errors, e.g. `patch.properties`, and its members by path
/// (`patch.properties.scores[2]`).
pub fn properties_from_struct(object: Struct, field: &str) -> Result<Properties, FieldViolation> {
    object
        .fields
        .into_iter()
        .map(|(key, value)| {
            let value = json_from_value(value, &format!("{field}.{key}"))?;
            Ok((key, value))
        })
        .collect()
}

fn value_from_json(value: &serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        // Exact for every number a Struct can have carried in (see `json_number`).
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

    fn push(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(self.0))
        }
    }
}

fn invalid(violation: FieldViolation) -> Error {
    Error::invalid(vec![violation])
}
