//! Parsers for every user field: each takes raw input and the name of the
//! request field it came from, so errors name that field.

use roster_kit::{Error, FieldViolation};

use super::{Avatar, ExternalPicture, unicode};

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

/// The form in which user names are compared: NFKC, case kept (see
/// [`UserName`]). Lookups by name and the uniqueness of names use it.
pub fn canonical_name(name: &str) -> String {
    unicode::nfkc(name).into_owned()
}

/// The caller's unique, immutable user id.
///
/// Stored in NFC (composed: `"Jose\u{301}"` is stored as `"José"`), and
/// compared in its canonical form, NFKC with case kept: two names that differ
/// only in composition or by compatibility variants (full-width letters,
/// ligatures, no-break spaces) are one name; `"Jane"` and `"jane"` are two, as
/// they always were (products use names as their own ids, often
/// case-sensitively). A new name may hold no invisible character ([`Self::parse_new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    /// Exactly as the request gave it (login credentials are made over it).
    given: String,
    /// NFC: what is stored and shown.
    name: String,
}

impl UserName {
    /// A name as it may already exist: 1–50 characters (counted in NFC), no
    /// control characters, no leading or trailing white space. Names stored
    /// before invisible characters were refused still parse, so they stay
    /// readable and can log in.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let name = unicode::nfc(raw);
        let chars = name.chars().count();
        let problem = if raw.is_empty() {
            Some("is required".to_owned())
        } else if chars > MAX_NAME_CHARS {
            Some(format!(
                "must be at most {MAX_NAME_CHARS} characters (got {chars})"
            ))
        } else if has_control_chars(raw) {
            Some("must not contain control characters".to_owned())
        } else if name.trim() != name {
            Some("must not start or end with whitespace".to_owned())
        } else {
            None
        };
        match problem {
            Some(description) => Err(FieldViolation::new(field, description)),
            None => Ok(Self {
                name: name.into_owned(),
                given: raw.to_owned(),
            }),
        }
    }

    /// A name for a new user: [`Self::parse`], and nothing invisible.
    pub fn parse_new(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let name = Self::parse(raw, field)?;
        name.check_new(field)?;
        Ok(name)
    }

    /// Refuses what a new name may not hold: control, format and other
    /// invisible characters (zero width spaces and joiners, bidirectional
    /// controls, soft hyphens, Hangul fillers, variation selectors …),
    /// private-use, unassigned and noncharacter code points.
    pub fn check_new(&self, field: &str) -> Result<(), FieldViolation> {
        match unicode::forbidden_in_name(&self.name) {
            Some(c) => Err(FieldViolation::new(
                field,
                format!(
                    "must not contain invisible, format or control characters (found {})",
                    unicode::describe(c)
                ),
            )),
            None => Ok(()),
        }
    }

    /// The name in NFC, as stored.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The name exactly as the request gave it.
    pub fn as_given(&self) -> &str {
        &self.given
    }

    /// The form names are compared in (see [`canonical_name`]).
    pub fn canonical(&self) -> String {
        canonical_name(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// 1–100 characters (counted in NFC, which is what is stored), with at
    /// least one visible character; no control characters, bidirectional
    /// controls or invisible characters other than the joiners and selectors
    /// scripts and emoji need (see [`unicode::forbidden_in_display_name`]).
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldViolation> {
        let name = unicode::nfc(raw);
        let chars = name.chars().count();
        let problem = if !unicode::has_visible_char(&name) {
            Some("must not be empty: it needs a visible character".to_owned())
        } else if chars > MAX_DISPLAY_NAME_CHARS {
            Some(format!(
                "must be at most {MAX_DISPLAY_NAME_CHARS} characters (got {chars})"
            ))
        } else if has_control_chars(&name) {
            Some("must not contain control characters".to_owned())
        } else {
            unicode::forbidden_in_display_name(&name).map(|c| {
                format!(
                    "must not contain invisible, format or control characters (found {})",
                    unicode::describe(c)
                )
            })
        };
        match problem {
            Some(description) => Err(FieldViolation::new(field, description)),
            None => Ok(Self(name.into_owned())),
        }
    }

    /// The default display name is the user name itself (always valid: ≤ 50 chars).
    pub fn from_name(name: &UserName) -> Self {
        Self(name.name.clone())
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

/// Keyword for prefix search, in NFC; matching ignores case and accents (see
/// [`super::collation`]).
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
    Ok(Some(unicode::nfc(raw).into_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
    fn names_are_stored_composed_and_counted_in_characters() {
        let decomposed = "e\u{301}".repeat(50);
        let name = UserName::parse(&decomposed, "name").unwrap_or_else(|v| panic!("{v:?}"));
        assert_eq!(name.as_str(), "é".repeat(50));
        assert_eq!(name.as_given(), decomposed);
        assert_eq!(name.canonical(), canonical_name(&"é".repeat(50)));
        assert_eq!(canonical_name("ｊａｎｅ"), "jane");
        assert_ne!(canonical_name("Jane"), "jane");
    }

    #[test]
    fn new_names_refuse_invisible_characters_but_old_ones_still_parse() {
        for raw in [
            "ja\u{200B}ne",
            "ja\u{200D}ne",
            "\u{202E}enaj",
            "ja\u{AD}ne",
            "\u{3164}",
        ] {
            assert!(
                UserName::parse(raw, "name").is_ok(),
                "{raw:?} parses as a lookup"
            );
            let violation = UserName::parse_new(raw, "name").err();
            assert_eq!(violation.as_ref().map(|v| v.field.as_str()), Some("name"));
            assert!(
                violation.is_some_and(|v| v.description.contains("U+")),
                "the message names the character"
            );
        }
        assert!(UserName::parse_new("José Ñúñez", "name").is_ok());
    }

    #[test]
    fn display_names_take_every_script_and_emoji() {
        for raw in [
            "Émile Zola",
            "Ωμέγα",
            "Жанна",
            "محمد",
            "שלום",
            "李小龙",
            "👩\u{200D}💻 Ada ❤\u{FE0F}",
        ] {
            let parsed = DisplayName::parse(raw, "display_name")
                .unwrap_or_else(|v| panic!("{raw:?}: {v:?}"));
            assert_eq!(parsed.as_str(), raw);
        }
        assert_eq!(
            DisplayName::parse("Zoe\u{308}", "display_name")
                .map(|d| d.as_str().to_owned())
                .ok(),
            Some("Zoë".to_owned())
        );
        for raw in ["\u{200B}", "\u{301}", "ad\u{202E}nimda", "\u{3164}\u{3164}"] {
            assert!(DisplayName::parse(raw, "display_name").is_err(), "{raw:?}");
        }
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

    /// Any text, weighted towards the edges: empty, whitespace, control
    /// characters, non-ASCII, lengths around the limits.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[ \t\n\u{0}\u{7f}a-zA-Z0-9é漢_/:.-]{0,60}",
            (0usize..2200).prop_map(|n| "é".repeat(n)),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn user_names_parse_valid_or_name_the_field(raw in text()) {
            match UserName::parse(&raw, "name") {
                Ok(name) => {
                    prop_assert_eq!(name.as_given(), raw.as_str());
                    prop_assert_eq!(name.as_str(), unicode::nfc(&raw));
                    prop_assert!((1..=MAX_NAME_CHARS).contains(&name.as_str().chars().count()));
                    prop_assert!(!has_control_chars(&raw) && name.as_str().trim() == name.as_str());
                }
                Err(violation) => prop_assert_eq!(violation.field, "name"),
            }
        }

        #[test]
        fn new_user_names_hold_nothing_invisible(raw in prop_oneof![
            text(),
            "[a-z\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2060}\u{FEFF}\u{AD}\u{3164}]{1,10}",
        ]) {
            match UserName::parse_new(&raw, "name") {
                Ok(name) => {
                    prop_assert!(UserName::parse(&raw, "name").is_ok());
                    prop_assert_eq!(unicode::forbidden_in_name(name.as_str()), None);
                }
                Err(violation) => prop_assert_eq!(violation.field, "name"),
            }
        }

        #[test]
        fn canonical_names_are_stable(raw in text()) {
            let canonical = canonical_name(&raw);
            prop_assert_eq!(canonical_name(&canonical), canonical.clone());
            prop_assert_eq!(canonical_name(&unicode::nfc(&raw)), canonical);
        }

        #[test]
        fn display_names_parse_valid_or_name_the_field(raw in text()) {
            match DisplayName::parse(&raw, "patch.display_name") {
                Ok(name) => {
                    prop_assert!(name.as_str().chars().count() <= MAX_DISPLAY_NAME_CHARS);
                    prop_assert!(!name.as_str().trim().is_empty() && !has_control_chars(name.as_str()));
                }
                Err(violation) => prop_assert_eq!(violation.field, "patch.display_name"),
            }
        }

        #[test]
        fn descriptions_parse_valid_or_name_the_field(raw in text()) {
            match Description::parse(&raw, "description") {
                Ok(description) => prop_assert!(description.as_str().chars().count() <= MAX_DESCRIPTION_CHARS),
                Err(violation) => prop_assert_eq!(violation.field, "description"),
            }
        }

        #[test]
        fn keywords_parse_lower_cased_or_name_the_field(raw in text()) {
            match parse_keyword(&raw, "keyword") {
                Ok(None) => prop_assert!(raw.is_empty()),
                Ok(Some(keyword)) => prop_assert_eq!(keyword, unicode::nfc(&raw)),
                Err(violation) => prop_assert_eq!(violation.field, "keyword"),
            }
        }

        #[test]
        fn presence_statuses_parse_valid_or_name_the_field(raw in prop_oneof![text(), "[A-Z0-9_]{0,40}"]) {
            match PresenceStatus::parse(&raw, "status") {
                Ok(status) => prop_assert!((1..=MAX_PRESENCE_STATUS_CHARS).contains(&status.as_str().len())),
                Err(violation) => prop_assert_eq!(violation.field, "status"),
            }
        }

        #[test]
        fn file_ids_parse_valid_or_name_the_field(raw in prop_oneof![text(), "[A-Za-z0-9_-]{0,70}"]) {
            match parse_file_id(&raw, "patch.avatar.file_id") {
                Ok(id) => prop_assert!((1..=MAX_FILE_ID_CHARS).contains(&id.len())),
                Err(violation) => prop_assert_eq!(violation.field, "patch.avatar.file_id"),
            }
        }

        #[test]
        fn external_pictures_parse_or_name_their_fields(
            url in prop_oneof![text(), "https?://[a-z]{1,10}\\.example/[a-z]{0,10}"],
            name in text(),
            content_type in prop_oneof![text(), "[a-z]{1,8}/[a-z+.-]{1,12}"],
            size in any::<i64>(),
        ) {
            match parse_external_picture(&url, &name, &content_type, size, "avatar.external") {
                Ok(Avatar::External(picture)) => {
                    prop_assert_eq!(picture.url, url);
                    prop_assert!(picture.size.is_none_or(|s| s > 0));
                }
                Ok(Avatar::File(_)) => prop_assert!(false, "an external picture parsed as a file"),
                Err(err) => {
                    prop_assert_eq!(err.kind, roster_kit::error::ErrorKind::InvalidArgument);
                    prop_assert!(!err.violations.is_empty());
                    for violation in err.violations {
                        let known = ["url", "name", "content_type", "size"]
                            .map(|part| format!("avatar.external.{part}"));
                        prop_assert!(known.contains(&violation.field), "{:?}", violation);
                    }
                }
            }
        }
    }
}
