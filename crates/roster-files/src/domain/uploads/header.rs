//! The upload header: validated before a byte of content is read.

use roster_kit::{Error, FieldViolation, Result};

use crate::domain::{
    sniff,
    types::{Purpose, Visibility},
};

const MAX_NAME_CHARS: usize = 255;

/// The visibility an upload asks for, as the request carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedVisibility {
    /// Unset: the purpose's default.
    Default,
    Exactly(Visibility),
    /// A value this server does not know.
    Unknown,
}

/// A validated upload header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub name: String,
    /// Normalised declared type; `None` when the client declared none.
    pub declared_content_type: Option<String>,
    pub size: u64,
    pub purpose: Purpose,
    pub visibility: Visibility,
    /// The owner asked for: 0 for "the caller" (see `access::upload_owner`).
    pub requested_owner: i64,
}

impl NewUpload {
    /// Validates the raw header fields, naming each offending field (`header.*`).
    /// `purpose` is `None` when the request's value is unset or unknown.
    pub fn parse(
        name: &str,
        content_type: &str,
        size: u64,
        purpose: Option<Purpose>,
        visibility: RequestedVisibility,
        requested_owner: i64,
    ) -> Result<Self> {
        let mut violations = Vec::new();
        let name = parse_name(name).map_err(|v| violations.push(v)).ok();
        let declared_content_type = sniff::normalise(content_type);
        if let Some(Err(err)) = declared_content_type
            .as_deref()
            .map(|declared| sniff::validate_declared(declared, "header.content_type"))
        {
            violations.extend(err.violations);
        }
        if size == 0 {
            violations.push(FieldViolation::new("header.size", "must be at least 1"));
        }
        if purpose.is_none() {
            violations.push(FieldViolation::new(
                "header.purpose",
                "must be ATTACHMENT or AVATAR",
            ));
        }
        let visibility = parse_visibility(purpose, visibility)
            .map_err(|v| violations.push(v))
            .ok();
        match (name, purpose, visibility) {
            (Some(name), Some(purpose), Some(visibility)) if violations.is_empty() => Ok(Self {
                name,
                declared_content_type,
                size,
                purpose,
                visibility,
                requested_owner,
            }),
            _ => Err(Error::invalid(violations)),
        }
    }
}

fn parse_name(raw: &str) -> Result<String, FieldViolation> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(FieldViolation::new(
            "header.name",
            format!("must be 1–{MAX_NAME_CHARS} characters"),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(FieldViolation::new(
            "header.name",
            "must not contain control characters, '/' or '\\'",
        ));
    }
    Ok(name.to_owned())
}

/// The visibility to store. An avatar is a display picture: it is public, and
/// a request to hide it is refused rather than silently ignored. Without a
/// valid purpose there is nothing to check against (its own violation says so).
fn parse_visibility(
    purpose: Option<Purpose>,
    requested: RequestedVisibility,
) -> Result<Visibility, FieldViolation> {
    let field = "header.visibility";
    match (purpose, requested) {
        (_, RequestedVisibility::Unknown) => Err(FieldViolation::new(
            field,
            "must be UNSPECIFIED, PRIVATE or PUBLIC",
        )),
        (Some(Purpose::Avatar), RequestedVisibility::Exactly(Visibility::Private)) => Err(
            FieldViolation::new(field, "an avatar is always PUBLIC; leave it unset"),
        ),
        (_, RequestedVisibility::Exactly(visibility)) => Ok(visibility),
        (Some(purpose), RequestedVisibility::Default) => Ok(purpose.default_visibility()),
        (None, RequestedVisibility::Default) => Ok(Visibility::Private),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(result: Result<NewUpload>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(err) => {
                assert_eq!(err.reason, "INVALID_FIELD");
                err.violations.into_iter().map(|v| v.field).collect()
            }
        }
    }

    #[test]
    fn each_offending_field_is_named_at_once() {
        let result = NewUpload::parse(" ", "nonsense", 0, None, RequestedVisibility::Unknown, 0);
        assert_eq!(
            fields(result),
            [
                "header.name",
                "header.content_type",
                "header.size",
                "header.purpose",
                "header.visibility"
            ]
        );
    }

    #[test]
    fn visibility_defaults_by_purpose_and_avatars_stay_public() {
        let parse = |purpose, visibility| {
            NewUpload::parse("a.png", "", 1, Some(purpose), visibility, 0).map(|u| u.visibility)
        };
        use RequestedVisibility::{Default, Exactly};
        assert_eq!(
            parse(Purpose::Attachment, Default).ok(),
            Some(Visibility::Private)
        );
        assert_eq!(
            parse(Purpose::Attachment, Exactly(Visibility::Public)).ok(),
            Some(Visibility::Public)
        );
        assert_eq!(
            parse(Purpose::Avatar, Default).ok(),
            Some(Visibility::Public)
        );
        assert_eq!(
            parse(Purpose::Avatar, Exactly(Visibility::Public)).ok(),
            Some(Visibility::Public)
        );
        assert_eq!(
            fields(NewUpload::parse(
                "a.png",
                "",
                1,
                Some(Purpose::Avatar),
                Exactly(Visibility::Private),
                0
            )),
            ["header.visibility"]
        );
    }

    fn purposes() -> impl Strategy<Value = Option<Purpose>> {
        prop_oneof![
            Just(None),
            Just(Some(Purpose::Attachment)),
            Just(Some(Purpose::Avatar))
        ]
    }

    fn visibilities() -> impl Strategy<Value = RequestedVisibility> {
        prop_oneof![
            Just(RequestedVisibility::Default),
            Just(RequestedVisibility::Unknown),
            Just(RequestedVisibility::Exactly(Visibility::Private)),
            Just(RequestedVisibility::Exactly(Visibility::Public)),
        ]
    }

    proptest! {
        #[test]
        fn any_header_is_accepted_as_valid_or_refused_naming_only_its_fields(
            name in any::<String>(),
            content_type in prop_oneof![any::<String>(), "[a-z]{1,8}/[a-z0-9.+-]{1,12}(; ?[a-z]+=[a-z0-9]+)?"],
            size in any::<u64>(),
            purpose in purposes(),
            visibility in visibilities(),
            owner in any::<i64>(),
        ) {
            match NewUpload::parse(&name, &content_type, size, purpose, visibility, owner) {
                Ok(upload) => {
                    let chars = upload.name.chars().count();
                    prop_assert!((1..=MAX_NAME_CHARS).contains(&chars));
                    prop_assert!(!upload.name.chars().any(|c| c.is_control() || c == '/' || c == '\\'));
                    prop_assert_eq!(upload.name.trim(), upload.name.as_str());
                    prop_assert!(upload.size >= 1);
                    prop_assert_eq!(Some(upload.purpose), purpose);
                    prop_assert_eq!(upload.requested_owner, owner);
                    if upload.purpose == Purpose::Avatar {
                        prop_assert_eq!(upload.visibility, Visibility::Public);
                    }
                    if let Some(declared) = &upload.declared_content_type {
                        prop_assert!(sniff::validate_declared(declared, "f").is_ok());
                        prop_assert_eq!(declared.to_ascii_lowercase(), declared.clone());
                    }
                }
                Err(err) => {
                    prop_assert_eq!(err.reason, "INVALID_FIELD");
                    prop_assert!(!err.violations.is_empty());
                    for violation in &err.violations {
                        prop_assert!(
                            ["header.name", "header.content_type", "header.size", "header.purpose", "header.visibility"]
                                .contains(&violation.field.as_str()),
                            "unexpected field {}", violation.field
                        );
                        prop_assert!(err.message.contains(&violation.field));
                    }
                }
            }
        }

        #[test]
        fn well_formed_headers_are_accepted(
            name in "[A-Za-z0-9 ._-]{0,200}[A-Za-z0-9]",
            content_type in prop_oneof![Just(String::new()), "(text|image|application)/[a-z0-9.+-]{1,20}"],
            size in 1..u64::MAX,
            purpose in prop_oneof![Just(Purpose::Attachment), Just(Purpose::Avatar)],
        ) {
            let upload = NewUpload::parse(&name, &content_type, size, Some(purpose), RequestedVisibility::Default, 0);
            prop_assert!(upload.is_ok(), "{:?}", upload.err());
        }
    }
}
