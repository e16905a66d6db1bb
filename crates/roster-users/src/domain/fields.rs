//! Parsers for every user field: each takes raw input and the name of the
//! request field it came from, so errors name that field.

use roster_kit::{Error, FieldViolation};

use super::{Avatar, ExternalPicture};

pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_PRESENCE_STATUS_CHARS: usize = 32;
pub const MAX_KEYWORD_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_PICTURE_NAME_CHARS: usize = 255;
pub const MAX_CONTENT_TYPE_CHARS: usize = 127;
pub const MAX_FILE_ID_CHARS: usize = 64;

fn has_control_chars(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// The caller's unique, immutable user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let chars = raw.chars().count();
        let problem = if raw.is_empty() {
            Some("is required".to_owned())
        } else if chars > MAX_NAME_CHARS {
            Some(format!(
                "must be at most {MAX_NAME_CHARS} characters (got {chars})"
            ))
        } else if has_control_chars(raw) {
            Some("must not contain control characters".to_owned())
        } else if raw.trim() != raw {
            Some("must not start or end with whitespace".to_owned())
        } else {
            None
        };
        match problem {
            Some(description) => Err(FieldViolation::new(field, description)),
            None => Ok(Self(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let chars = raw.chars().count();
        let problem = if raw.trim().is_empty() {
            Some("must not be empty".to_owned())
        } else if chars > MAX_DISPLAY_NAME_CHARS {
            Some(format!(
                "must be at most {MAX_DISPLAY_NAME_CHARS} characters (got {chars})"
            ))
        } else if has_control_chars(raw) {
            Some("must not contain control characters".to_owned())
        } else {
            None
        };
        match problem {
            Some(description) => Err(FieldViolation::new(field, description)),
            None => Ok(Self(raw.to_owned())),
        }
    }

    /// The default display name is the user name itself (always valid: ≤ 50 chars).
    pub fn from_name(name: &UserName) -> Self {
        Self(name.0.clone())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let chars = raw.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(FieldViolation::new(
                field,
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceStatus(String);

impl PresenceStatus {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_PRESENCE_STATUS_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldViolation::new(
                field,
                format!(
                    "must be 1–{MAX_PRESENCE_STATUS_CHARS} characters of A–Z, 0–9 and '_' (e.g. \"AVAILABLE\")"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A file id as the file service issues them.
pub fn parse_file_id(raw: &str, field: &str) -> Result<String, FieldViolation> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_FILE_ID_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldViolation::new(
            field,
            format!(
                "must be a file id: 1–{MAX_FILE_ID_CHARS} characters of A–Z, a–z, 0–9, '-' and '_'"
            ),
        ))
    }
}

/// An externally hosted picture; `field` is the path of the message, e.g. `patch.avatar.external`.
pub fn parse_external_picture(
    url: &str,
    name: &str,
    content_type: &str,
    size: i64,
    field: &str,
) -> Result<Avatar, Error> {
    let mut violations = Vec::new();
    let url_field = format!("{field}.url");
    if url.chars().count() > MAX_URL_CHARS {
        violations.push(FieldViolation::new(
            &url_field,
            format!("must be at most {MAX_URL_CHARS} characters"),
        ));
    } else {
        match url::Url::parse(url) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
            _ => violations.push(FieldViolation::new(
                &url_field,
                "must be an absolute http or https URL",
            )),
        }
    }
    if name.chars().count() > MAX_PICTURE_NAME_CHARS || has_control_chars(name) {
        violations.push(FieldViolation::new(
            format!("{field}.name"),
            format!(
                "must be at most {MAX_PICTURE_NAME_CHARS} characters, without control characters"
            ),
        ));
    }
    let content_type_ok = content_type.is_empty()
        || (content_type.len() <= MAX_CONTENT_TYPE_CHARS
            && content_type.split_once('/').is_some_and(|(kind, sub)| {
                !kind.is_empty()
                    && !sub.is_empty()
                    && content_type.bytes().all(|b| b.is_ascii_graphic())
            }));
    if !content_type_ok {
        violations.push(FieldViolation::new(
            format!("{field}.content_type"),
            format!("must be a media type such as \"image/png\", at most {MAX_CONTENT_TYPE_CHARS} characters"),
        ));
    }
    if size < 0 {
        violations.push(FieldViolation::new(
            format!("{field}.size"),
            "must not be negative",
        ));
    }
    if !violations.is_empty() {
        return Err(Error::invalid(violations));
    }
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Avatar::External(ExternalPicture {
        url: url.to_owned(),
        name: optional(name),
        content_type: optional(content_type),
        size: (size > 0).then_some(size),
    }))
}

/// Keyword for prefix search, lower-cased like the stored search key.
pub fn parse_keyword(raw: &str, field: &str) -> Result<Option<String>, FieldViolation> {
    if raw.is_empty() {
        return Ok(None);
    }
    let chars = raw.chars().count();
    if chars > MAX_KEYWORD_CHARS {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_KEYWORD_CHARS} characters (got {chars})"),
        ));
    }
    if has_control_chars(raw) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(super::sort_key::display_name_search_key(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_at_fifty_characters() {
        assert!(UserName::parse(&"é".repeat(50), "name").is_ok());
        let err = UserName::parse(&"a".repeat(51), "name").err();
        assert_eq!(err.map(|v| v.field), Some("name".to_owned()));
    }

    #[test]
    fn names_refuse_empty_padded_and_control_characters() {
        assert!(UserName::parse("", "name").is_err());
        assert!(UserName::parse(" jane", "name").is_err());
        assert!(UserName::parse("ja\nne", "name").is_err());
    }

    #[test]
    fn display_names_are_bounded_at_one_hundred_characters() {
        assert!(DisplayName::parse(&"x".repeat(100), "display_name").is_ok());
        assert!(DisplayName::parse(&"x".repeat(101), "display_name").is_err());
        assert!(DisplayName::parse("   ", "display_name").is_err());
    }

    #[test]
    fn presence_status_is_an_upper_case_word() {
        assert!(PresenceStatus::parse("DO_NOT_DISTURB", "status").is_ok());
        assert!(PresenceStatus::parse("away", "status").is_err());
        assert!(PresenceStatus::parse("", "status").is_err());
    }

    #[test]
    fn external_pictures_need_http_urls() {
        assert!(
            parse_external_picture("https://cdn.example.com/a.png", "", "", 0, "avatar").is_ok()
        );
        let err = parse_external_picture("ftp://x/a.png", "", "image/png", -1, "avatar").err();
        let fields: Vec<String> = err
            .map(|e| e.violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["avatar.url", "avatar.size"]);
    }
}
