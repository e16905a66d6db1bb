//! Parsers for request fields: each takes raw input and the name of the request
//! field it came from, and returns a value valid by construction or a violation
//! naming that field.

use roster_kit::FieldViolation;

pub const MAX_NOTE_CHARS: usize = 1000;
pub const MAX_REASON_CHARS: usize = 500;
/// Most user ids one IsFlaggedByMe call may ask about.
pub const MAX_BATCH_USERS: usize = 100;

/// A user id as the user service assigns them (positive).
pub fn user_id(raw: i64, field: &str) -> Result<i64, FieldViolation> {
    if raw > 0 {
        Ok(raw)
    } else {
        Err(FieldViolation::new(field, "must be a user id (> 0)"))
    }
}

/// 1–[`MAX_BATCH_USERS`] user ids.
pub fn user_ids(raw: &[i64], field: &str) -> Result<Vec<i64>, Vec<FieldViolation>> {
    if raw.is_empty() || raw.len() > MAX_BATCH_USERS {
        return Err(vec![FieldViolation::new(
            field,
            format!("must hold 1–{MAX_BATCH_USERS} user ids"),
        )]);
    }
    let violations: Vec<FieldViolation> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, id)| user_id(*id, &format!("{field}[{i}]")).err())
        .collect();
    if violations.is_empty() {
        Ok(raw.to_vec())
    } else {
        Err(violations)
    }
}

/// Free text of at most `max` characters; line breaks and tabs allowed, other
/// control characters not.
fn free_text(raw: &str, field: &str, max: usize) -> Result<String, FieldViolation> {
    let chars = raw.chars().count();
    if chars > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters (got {chars})"),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(raw.to_owned())
}

/// A flagger's note: optional free text, at most [`MAX_NOTE_CHARS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        free_text(raw, field, MAX_NOTE_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A moderator's reason (ban, unban, clear, delete): optional free text, at most
/// [`MAX_REASON_CHARS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        free_text(raw, field, MAX_REASON_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_positive_and_batches_bounded() {
        assert!(user_id(0, "user_id").is_err());
        assert_eq!(user_id(7, "user_id").ok(), Some(7));
        assert!(user_ids(&[], "user_ids").is_err());
        assert!(user_ids(&[1; MAX_BATCH_USERS + 1], "user_ids").is_err());
        let violations = user_ids(&[1, -2, 3, 0], "user_ids")
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["user_ids[1]", "user_ids[3]"]);
    }

    #[test]
    fn free_text_is_bounded_and_allows_line_breaks_only() {
        assert!(Note::parse("line one\nline two\ttabbed", "note").is_ok());
        assert!(Note::parse("bell\u{7}", "note").is_err());
        assert!(Note::parse(&"x".repeat(MAX_NOTE_CHARS), "note").is_ok());
        assert!(Note::parse(&"x".repeat(MAX_NOTE_CHARS + 1), "note").is_err());
        let err = Reason::parse(&"é".repeat(MAX_REASON_CHARS + 1), "reason").err();
        assert_eq!(err.map(|v| v.field), Some("reason".to_owned()));
    }
}
