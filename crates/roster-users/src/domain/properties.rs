//! Custom properties: a JSON object of bounded size, updated by merging.

use roster_kit::FieldViolation;

use super::Properties;

/// Serialised size limit of a user's properties.
pub const MAX_PROPERTIES_BYTES: usize = 16 * 1024;

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

pub fn check_size(properties: &Properties, field: &str) -> Result<(), FieldViolation> {
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
    fn size_is_bounded() {
        let big = object(json!({"k": "x".repeat(MAX_PROPERTIES_BYTES)}));
        assert!(check_size(&big, "properties").is_err());
        assert!(check_size(&object(json!({"k": 1})), "properties").is_ok());
    }
}
