//! Property tests of every request decoder: whatever a client sends (any
//! strings, sizes, enum numbers, nesting), the result is a value or a typed
//! INVALID_ARGUMENT naming the offending fields, never a panic.

use proptest::prelude::*;
use prost_types::{FieldMask, ListValue, Struct, Value, value::Kind};
use roster_kit::{Error, error::ErrorKind};
use roster_proto::v1 as pb;

use super::*;
use crate::domain::{
    NewUser,
    fields::{MAX_DISPLAY_NAME_CHARS, MAX_NAME_CHARS},
    query::{UserFilter, UserQuery},
};

/// Any text, weighted towards the edges the parsers care about: empty,
/// whitespace, control characters, non-ASCII and lengths around the limits.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,12}",
        "[ \t\n\u{0}\u{7f}a-zA-Z0-9é漢_-]{0,60}",
        (0usize..2200).prop_map(|n| "x".repeat(n)),
        any::<String>(),
    ]
}

/// Any JSON-ish value, nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Kind::NullValue(0)),
        any::<bool>().prop_map(Kind::BoolValue),
        any::<f64>().prop_map(Kind::NumberValue),
        text().prop_map(Kind::StringValue),
    ]
    .prop_map(|kind| Value { kind: Some(kind) });
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8)
                .prop_map(|values| Kind::ListValue(ListValue { values })),
            prop::collection::btree_map(text(), inner, 0..8)
                .prop_map(|fields| Kind::StructValue(Struct { fields })),
        ]
        .prop_map(|kind| Value { kind: Some(kind) })
    })
}

/// JSON as a Struct carries it: finite doubles (any bits, and every integer
/// a double holds exactly), unicode strings and keys, nested.
fn json_value() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<f64>().prop_filter("JSON numbers are finite", |n| n.is_finite()),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|n| n as f64),
        Just(9_007_199_254_740_991.0),
        Just(-0.0),
    ];
    let leaf = prop_oneof![
        Just(Kind::NullValue(0)),
        any::<bool>().prop_map(Kind::BoolValue),
        number.prop_map(Kind::NumberValue),
        any::<String>().prop_map(Kind::StringValue),
    ]
    .prop_map(|kind| Value { kind: Some(kind) });
    leaf.prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|values| Kind::ListValue(ListValue { values })),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|fields| Kind::StructValue(Struct { fields })),
        ]
        .prop_map(|kind| Value { kind: Some(kind) })
    })
}

/// Equal, numbers bit for bit.
fn same(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Some(Kind::NumberValue(x)), Some(Kind::NumberValue(y))) => x.to_bits() == y.to_bits(),
        (Some(Kind::ListValue(x)), Some(Kind::ListValue(y))) => {
            x.values.len() == y.values.len()
                && x.values.iter().zip(&y.values).all(|(a, b)| same(a, b))
        }
        (Some(Kind::StructValue(x)), Some(Kind::StructValue(y))) => {
            x.fields.len() == y.fields.len()
                && x.fields
                    .iter()
                    .all(|(k, v)| y.fields.get(k).is_some_and(|w| same(v, w)))
        }
        (x, y) => x == y,
    }
}

fn object() -> impl Strategy<Value = Option<Struct>> {
    prop::option::of(
        prop::collection::btree_map(text(), value(), 0..6).prop_map(|fields| Struct { fields }),
    )
}

fn user_ref() -> impl Strategy<Value = Option<pb::UserRef>> {
    prop::option::of(
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(pb::user_ref::Ref::Id),
            text().prop_map(pb::user_ref::Ref::Name),
        ])
        .prop_map(|r#ref| pb::UserRef { r#ref }),
    )
}

fn avatar() -> impl Strategy<Value = Option<pb::Avatar>> {
    let external =
        (text(), text(), text(), any::<i64>()).prop_map(|(url, name, content_type, size)| {
            pb::avatar::Source::External(pb::ExternalPicture {
                url,
                name,
                content_type,
                size,
            })
        });
    prop::option::of(
        prop::option::of(prop_oneof![
            text().prop_map(pb::avatar::Source::FileId),
            external,
            Just(pb::avatar::Source::External(pb::ExternalPicture {
                url: "https://cdn.example.com/a.png".into(),
                ..Default::default()
            })),
        ])
        .prop_map(|source| pb::Avatar { source }),
    )
}

/// `result` is a value, or INVALID_ARGUMENT whose every violation names a
/// field in `fields` (exactly, or a path under one of them), also in the message.
fn typed<T>(result: Result<T, Error>, fields: &[&str]) -> Result<(), TestCaseError> {
    let Err(err) = result else {
        return Ok(());
    };
    prop_assert_eq!(err.kind, ErrorKind::InvalidArgument, "{}", err);
    prop_assert!(!err.violations.is_empty(), "{}", err);
    for violation in &err.violations {
        let named = fields.iter().any(|field| {
            violation.field == *field
                || violation.field.starts_with(&format!("{field}."))
                || violation.field.starts_with(&format!("{field}["))
        });
        prop_assert!(named, "unexpected field {:?} in {}", violation.field, err);
        prop_assert!(err.message.contains(&violation.field), "{}", err);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn create_user_requests_parse_or_name_their_fields(
        name in text(),
        r#type in any::<i32>(),
        display_name in text(),
        description in text(),
        is_guest in any::<bool>(),
        properties in object(),
    ) {
        let request = pb::CreateUserRequest { name, r#type, display_name, description, is_guest, properties };
        let parsed = NewUser::try_from(request.clone());
        if let Ok(new) = &parsed {
            prop_assert_eq!(new.name.as_str(), request.name.as_str());
            prop_assert!(new.name.as_str().chars().count() <= MAX_NAME_CHARS);
            prop_assert!(new.display_name.as_str().chars().count() <= MAX_DISPLAY_NAME_CHARS);
        }
        typed(parsed, &["name", "type", "display_name", "description", "properties"])?;
    }

    #[test]
    fn update_requests_parse_or_name_their_fields(
        user in user_ref(),
        paths in prop::collection::vec(prop_oneof![
            Just("display_name".to_owned()), Just("description".to_owned()),
            Just("avatar".to_owned()), Just("properties".to_owned()), Just("type".to_owned()),
            text(),
        ], 0..6),
        display_name in text(),
        description in text(),
        avatar in avatar(),
        properties in object(),
        r#type in any::<i32>(),
        expected_version in any::<i64>(),
        no_mask in any::<bool>(),
    ) {
        let request = pb::UpdateUserRequest {
            user,
            update_mask: (!no_mask).then_some(FieldMask { paths }),
            patch: Some(pb::UserPatch { display_name, description, avatar, properties, r#type }),
            expected_version,
        };
        typed(update_request(request), &["user", "update_mask", "patch", "expected_version"])?;
    }

    #[test]
    fn presence_requests_parse_or_name_their_fields(
        user in user_ref(),
        status in prop::option::of(prop_oneof![text(), "[A-Z0-9_]{1,40}"]),
        online in prop::option::of(any::<bool>()),
        call_status in prop::option::of(any::<i32>()),
    ) {
        let request = pb::SetPresenceRequest { user, status, online, call_status };
        let parsed = presence_request(request);
        if let Ok((_, change)) = &parsed {
            prop_assert!(change.status.is_some() || change.online.is_some() || change.call_status.is_some());
        }
        typed(parsed, &["user", "status", "call_status"])?;
    }

    #[test]
    fn query_requests_parse_or_name_their_fields(
        keyword in text(),
        sort in any::<i32>(),
        r#type in prop::option::of(any::<i32>()),
        flags in prop::array::uniform4(prop::option::of(any::<bool>())),
        page_size in any::<u32>(),
        page_token in prop_oneof![text(), "[A-Za-z0-9_-]{0,80}"],
    ) {
        let request = pb::QueryUsersRequest {
            keyword,
            sort,
            filter: Some(pb::UserFilter {
                r#type,
                is_guest: flags[0],
                is_deleted: flags[1],
                is_global_banned: flags[2],
                is_flagged: flags[3],
            }),
            page_size,
            page_token,
        };
        typed(user_query(request), &["keyword", "sort", "filter", "page_size", "page_token"])?;
    }

    #[test]
    fn page_tokens_of_any_bytes_are_refused_as_tokens(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let mut query = UserQuery {
            keyword: None,
            sort: crate::domain::query::UserSort::DisplayName,
            filter: UserFilter::default(),
            limit: 20,
            after: None,
        };
        let result = query.resume_from(&token, "page_token");
        if let Err(err) = &result {
            prop_assert_eq!(err.reason, "PAGE_TOKEN_INVALID");
        }
        typed(result, &["page_token"])?;
    }

    #[test]
    fn login_requests_parse_or_name_their_fields(
        name in text(),
        display_name in text(),
        auth_token in prop_oneof![text(), "[0-9a-f]{64}"],
        auth_expires_at in prop_oneof![Just(0i64), any::<i64>()],
        guest in any::<bool>(),
        guest_secret in prop_oneof![text(), "[0-9a-f]{64}"],
    ) {
        let request = pb::LoginRequest { name, display_name, auth_token, guest, auth_expires_at, guest_secret };
        let parsed = login_request(request.clone(), None, None);
        if let Ok(login) = &parsed {
            prop_assert_eq!(login.guest, request.guest);
            prop_assert!(login.name.is_some() || request.guest);
            prop_assert!(!(login.guest && login.credential.is_some()));
            prop_assert!(login.guest || login.guest_secret.is_none());
        }
        typed(parsed, &["name", "display_name", "auth_token", "auth_expires_at", "guest_secret"])?;
    }

    #[test]
    fn issue_token_requests_parse_or_name_their_fields(name in text(), display_name in text(), ttl_seconds in any::<u32>()) {
        let request = pb::IssueUserTokenRequest { name, display_name, ttl_seconds };
        typed(issue_token_request(&request), &["name", "display_name"])?;
    }

    #[test]
    fn lookups_parse_or_name_their_fields(
        user in prop::option::of(prop_oneof![
            any::<i64>().prop_map(pb::get_user_request::User::Id),
            text().prop_map(pb::get_user_request::User::Name),
        ]),
        ids in prop::collection::vec(any::<i64>(), 0..5),
        names in prop::collection::vec(text(), 0..5),
        reference in user_ref(),
    ) {
        typed(get_user_key(pb::GetUserRequest { user }), &["id", "name"])?;
        typed(batch_keys(pb::BatchGetUsersRequest { ids, names }), &["ids", "names"])?;
        typed(user_key_from_ref(reference, "user"), &["user"])?;
    }

    #[test]
    fn watch_cursors_parse_or_name_their_field(after_cursor in prop_oneof![text(), "-?[0-9]{0,25}"]) {
        let result = watch_cursor(&pb::WatchUserEventsRequest { after_cursor: after_cursor.clone(), from_now: false });
        if let Ok(cursor) = &result {
            prop_assert!(cursor.is_some_and(|c| c >= 0));
        }
        typed(result, &["after_cursor"])?;
        // From now: with a cursor refused naming `from_now`.
        let from_now = watch_cursor(&pb::WatchUserEventsRequest { after_cursor: after_cursor.clone(), from_now: true });
        if after_cursor.is_empty() {
            prop_assert_eq!(from_now.ok(), Some(None));
        } else {
            prop_assert!(from_now.is_err());
            typed(from_now, &["from_now"])?;
        }
    }
}

proptest! {
    /// Properties read back from their stored text (the database column, the
    /// outbox payload) are the Struct that was sent, bit for bit.
    #[test]
    fn properties_round_trip_through_their_stored_text(
        fields in prop::collection::btree_map(any::<String>(), json_value(), 0..6),
    ) {
        let sent = Struct { fields };
        let properties = properties_from_struct(sent.clone(), "properties")
            .unwrap_or_else(|v| panic!("{v:?}"));
        let text = serde_json::to_string(&properties).unwrap_or_else(|e| panic!("{e}"));
        let read: crate::domain::Properties =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let back = Value { kind: Some(Kind::StructValue(struct_from_json(&read))) };
        prop_assert!(same(&Value { kind: Some(Kind::StructValue(sent.clone())) }, &back), "{:?} came back as {:?}", sent, back);
    }
}

#[test]
fn the_largest_exact_integer_is_stored_as_an_integer() {
    let sent = Struct {
        fields: [(
            "n".to_owned(),
            Value {
                kind: Some(Kind::NumberValue(9_007_199_254_740_991.0)),
            },
        )]
        .into(),
    };
    let properties = properties_from_struct(sent, "properties").unwrap_or_else(|v| panic!("{v:?}"));
    assert_eq!(
        serde_json::to_string(&properties).unwrap_or_default(),
        r#"{"n":9007199254740991}"#
    );
    let read: crate::domain::Properties =
        serde_json::from_str(r#"{"n":9007199254740991.0,"m":0.30000000000000004}"#)
            .unwrap_or_default();
    let back = struct_from_json(&read);
    let number = |key: &str| match back.fields.get(key).and_then(|v| v.kind.clone()) {
        Some(Kind::NumberValue(n)) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(number("n"), 9_007_199_254_740_991.0, "read back exactly");
    assert_eq!(number("m"), 0.1 + 0.2);
}

#[test]
fn a_guest_credential_or_a_native_guest_secret_is_refused() {
    let secret = "ab".repeat(32);
    let fields = |request: pb::LoginRequest| {
        login_request(request, None, None).err().map(|e| {
            e.violations
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        fields(pb::LoginRequest {
            guest: true,
            auth_token: secret.clone(),
            auth_expires_at: 10,
            ..Default::default()
        }),
        Some(vec!["auth_token".to_owned()])
    );
    assert_eq!(
        fields(pb::LoginRequest {
            name: "jane".into(),
            guest_secret: secret,
            ..Default::default()
        }),
        Some(vec!["guest_secret".to_owned()])
    );
}
