//! Request fields: each parser returns a value valid by construction, or
//! INVALID_ARGUMENT naming the field (`field` is its path in the request).

use std::collections::BTreeSet;

use roster_kit::{Error, FieldViolation, Result};

use super::catalogue;

pub const MAX_ROLE_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_SCOPE_ID_CHARS: usize = 128;
pub const MAX_BATCH_CHECKS: usize = 100;

/// A custom role's name: 1–64 of a–z, 0–9, '-' and '_', not starting with a sign.
pub fn role_name(field: &str, name: &str) -> Result<String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.chars().count() > MAX_ROLE_NAME_CHARS || !ok_chars || !ok_start {
        return Err(Error::invalid_field(
            field,
            format!(
                "must be 1–{MAX_ROLE_NAME_CHARS} characters of a–z, 0–9, '-' and '_', starting with a letter or digit"
            ),
        ));
    }
    Ok(name.to_owned())
}

pub fn description(field: &str, text: &str) -> Result<String> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Catalogue names; duplicates collapse. Names every unknown entry (`field[i]`).
pub fn permissions(field: &str, names: &[String]) -> Result<BTreeSet<String>> {
    let violations: Vec<FieldViolation> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| catalogue::lookup(n).is_none())
        .map(|(i, n)| {
            FieldViolation::new(format!("{field}[{i}]"), format!("unknown permission {n:?}"))
        })
        .collect();
    if !violations.is_empty() {
        return Err(Error::invalid(violations));
    }
    Ok(names.iter().cloned().collect())
}

pub fn permission(field: &str, name: &str) -> Result<String> {
    match catalogue::lookup(name) {
        Some(p) => Ok(p.name.to_owned()),
        None => Err(Error::invalid_field(
            field,
            format!("unknown permission {name:?}"),
        )),
    }
}

/// A channel or community id: 1–128 characters, no control characters.
pub fn scope_id(field: &str, id: &str) -> Result<String> {
    if id.is_empty() || id.chars().count() > MAX_SCOPE_ID_CHARS || id.chars().any(char::is_control)
    {
        return Err(Error::invalid_field(
            field,
            format!("must be 1–{MAX_SCOPE_ID_CHARS} characters without control characters"),
        ));
    }
    Ok(id.to_owned())
}

pub fn user_id(field: &str, id: i64) -> Result<i64> {
    if id <= 0 {
        return Err(Error::invalid_field(field, "must be a user id (positive)"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;
    use roster_kit::error::ErrorKind;

    use super::*;

    #[test]
    fn role_names_are_validated() {
        assert!(role_name("name", "helpers-2").is_ok());
        for bad in ["", "-x", "Upper", "has space", &"x".repeat(65)] {
            assert!(role_name("name", bad).is_err(), "{bad}");
        }
    }

    /// A refusal is INVALID_FIELD / INVALID_ARGUMENT naming `field` (or one of its entries).
    fn names_field(err: &Error, field: &str) -> bool {
        err.kind == ErrorKind::InvalidArgument
            && err.reason == "INVALID_FIELD"
            && !err.violations.is_empty()
            && err
                .violations
                .iter()
                .all(|v| v.field == field || v.field.starts_with(&format!("{field}[")))
            && err.message.contains(field)
    }

    proptest! {
        #[test]
        fn role_names_are_accepted_exactly_when_well_formed(name in any::<String>()) {
            let well_formed = regex_like_role_name(&name);
            match role_name("name", &name) {
                Ok(parsed) => {
                    prop_assert!(well_formed, "{name:?} accepted");
                    prop_assert_eq!(parsed, name);
                }
                Err(err) => {
                    prop_assert!(!well_formed, "{name:?} refused");
                    prop_assert!(names_field(&err, "name"), "{err:?}");
                }
            }
        }

        #[test]
        fn well_formed_role_names_are_accepted(name in "[a-z0-9][a-z0-9_-]{0,63}") {
            prop_assert_eq!(role_name("name", &name).ok(), Some(name));
        }

        #[test]
        fn descriptions_are_bounded_in_characters(text in any::<String>(), extra in "\\PC{0,600}") {
            for candidate in [text, extra] {
                let fits = candidate.chars().count() <= MAX_DESCRIPTION_CHARS;
                match description("description", &candidate) {
                    Ok(parsed) => prop_assert!(fits && parsed == candidate),
                    Err(err) => prop_assert!(!fits && names_field(&err, "description"), "{err:?}"),
                }
            }
        }

        #[test]
        fn permission_lists_name_every_unknown_entry(
            names in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(catalogue::CATALOGUE).prop_map(|p| p.name.to_owned()),
                    any::<String>(),
                ],
                0..12,
            )
        ) {
            let unknown: Vec<String> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| catalogue::lookup(n).is_none())
                .map(|(i, _)| format!("permissions[{i}]"))
                .collect();
            match permissions("permissions", &names) {
                Ok(set) => {
                    prop_assert!(unknown.is_empty());
                    prop_assert_eq!(set, names.iter().cloned().collect::<BTreeSet<_>>());
                }
                Err(err) => {
                    prop_assert!(names_field(&err, "permissions"), "{err:?}");
                    let named: Vec<String> = err.violations.iter().map(|v| v.field.clone()).collect();
                    prop_assert_eq!(named, unknown);
                }
            }
        }

        #[test]
        fn single_permissions_are_catalogue_names(name in any::<String>()) {
            match permission("checks[0].permission", &name) {
                Ok(parsed) => prop_assert!(catalogue::lookup(&parsed).is_some() && parsed == name),
                Err(err) => prop_assert!(names_field(&err, "checks[0].permission"), "{err:?}"),
            }
        }

        #[test]
        fn scope_ids_are_short_and_printable(id in any::<String>()) {
            let fits = !id.is_empty()
                && id.chars().count() <= MAX_SCOPE_ID_CHARS
                && !id.chars().any(char::is_control);
            match scope_id("scope.channel_id", &id) {
                Ok(parsed) => prop_assert!(fits && parsed == id),
                Err(err) => prop_assert!(!fits && names_field(&err, "scope.channel_id"), "{err:?}"),
            }
        }

        #[test]
        fn user_ids_are_positive(id in any::<i64>()) {
            match user_id("user_id", id) {
                Ok(parsed) => prop_assert!(id > 0 && parsed == id),
                Err(err) => prop_assert!(id <= 0 && names_field(&err, "user_id"), "{err:?}"),
            }
        }
    }

    /// The role name rule, written out independently of the parser.
    fn regex_like_role_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        !bytes.is_empty()
            && name.chars().count() <= MAX_ROLE_NAME_CHARS
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
    }
}
