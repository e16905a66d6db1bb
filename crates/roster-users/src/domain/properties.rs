//! Custom properties: a JSON object of bounded size, updated by merging.

use roster_kit::FieldViolation;

use super::Properties;

/// Serialised size limit of a user's properties.
pub const MAX_PROPERTIES_BYTES: usize = 16 * 1024;

/// How deeply properties may nest: the object itself is level 1, each object
/// or array inside adds one. Far below what gRPC's decoder (100 nested
/// messages: two per JSON level) and JSON parsers (128) accept, so whatever is
/// stored reads back.
pub const MAX_PROPERTIES_DEPTH: usize = 32;

/// Merges `patch` into `stored`, one level deep: each key given replaces that
/// key, a key given as `null` removes it.
pub fn merge(stored: &Properties, patch: &Properties) -> Properties {
    let mut merged = stored.clone();
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(object) => 1 + object.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Refuses properties over [`MAX_PROPERTIES_BYTES`] or [`MAX_PROPERTIES_DEPTH`].
pub fn check_limits(properties: &Properties, field: &str) -> Result<(), FieldViolation> {
    let levels = 1 + properties.values().map(depth).max().unwrap_or(0);
    if levels > MAX_PROPERTIES_DEPTH {
        return Err(FieldViolation::new(
            field,
            format!(
                "must nest at most {MAX_PROPERTIES_DEPTH} levels of objects and arrays (got {levels})"
            ),
        ));
    }
    check_size(properties, field)
}

fn check_size(properties: &Properties, field: &str) -> Result<(), FieldViolation> {
    let size = serde_json::to_vec(properties)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_PROPERTIES_BYTES {
        return Err(FieldViolation::new(
            field,
            format!("must serialise to at most {MAX_PROPERTIES_BYTES} bytes of JSON (got {size})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: serde_json::Value) -> Properties {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn merge_replaces_adds_and_removes_keys() {
        let stored = object(json!({"a": 1, "b": {"x": 1}, "c": 3}));
        let patch = object(json!({"b": {"y": 2}, "c": null, "d": "new"}));
        assert_eq!(
            merge(&stored, &patch),
            object(json!({"a": 1, "b": {"y": 2}, "d": "new"}))
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = json!("leaf");
        for _ in 0..MAX_PROPERTIES_DEPTH - 1 {
            deep = json!([deep]);
        }
        assert!(check_limits(&object(json!({ "k": deep.clone() })), "properties").is_ok());
        let err = check_limits(&object(json!({ "k": [deep] })), "properties").err();
        assert!(err.is_some_and(|v| v.description.contains("nest")));
    }

    #[test]
    fn size_is_bounded() {
        let big = object(json!({"k": "x".repeat(MAX_PROPERTIES_BYTES)}));
        assert!(check_limits(&big, "properties").is_err());
        assert!(check_limits(&object(json!({"k": 1})), "properties").is_ok());
    }
}
