//! The JSON the gateway speaks: camelCase field names as the proto JSON mapping
//! (and so grpcurl) has them, enum values without their proto prefix
//! (`PERSON`, not `USER_TYPE_PERSON`), numeric ids as JSON numbers, times as
//! RFC 3339. Each type converts from (and, for inputs, to) its proto message.

pub mod files;
pub mod moderation;
pub mod roles;
pub mod users;

use chrono::{DateTime, Utc};
use prost_types::{Struct, Timestamp, Value, value::Kind};
use serde::Serialize;
use utoipa::ToSchema;

/// A JSON object of custom data.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A hypermedia link (HAL).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    pub href: String,
}

/// Where the API is reached: the base of every link the gateway hands out.
#[derive(Debug, Clone)]
pub struct Hrefs {
    base: String,
}

impl Hrefs {
    pub fn new(public_url: &str) -> Self {
        Self {
            base: public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn link(&self, path: impl std::fmt::Display) -> Link {
        Link {
            href: format!("{}{path}", self.base),
        }
    }
}

pub fn time(timestamp: Option<Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

fn json_from_value(value: Value) -> serde_json::Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(json_from_value).collect())
        }
        Some(Kind::StructValue(object)) => serde_json::Value::Object(json_object(Some(object))),
    }
}

/// Whole numbers read back as integers (a protobuf Struct keeps every number as a double).
fn number(n: f64) -> serde_json::Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() < EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

pub fn json_object(object: Option<Struct>) -> JsonObject {
    object
        .map(|o| {
            o.fields
                .into_iter()
                .map(|(k, v)| (k, json_from_value(v)))
                .collect()
        })
        .unwrap_or_default()
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

pub fn struct_from_json(object: &JsonObject) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(k, v)| (k.clone(), value_from_json(v)))
            .collect(),
    }
}

/// A listing's next page token, absent on the last page.
pub fn next_page(token: String) -> Option<String> {
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_data_round_trips_with_whole_numbers_kept_whole() {
        let object: JsonObject = serde_json::from_str(
            r#"{"team": "blue", "n": 42, "ratio": 0.5, "tags": ["a", null], "nested": {"ok": true}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let back = json_object(Some(struct_from_json(&object)));
        assert_eq!(back, object);
        assert_eq!(back["n"], serde_json::json!(42));
    }
}
