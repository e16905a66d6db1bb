//! Property tests of every request decoder: whatever a client sends, the answer
//! is a parsed value or INVALID_ARGUMENT naming the offending field, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use proptest::prelude::*;
use roster_kit::{Error, authz::Scope, error::ErrorKind, paging};
use roster_proto::v1 as pb;

use super::convert::{self, MembersPosition, RolesPosition, UserGrantsPosition};
use crate::domain::{
    CheckQuery, GrantRequest, NewRole, RevokeRequest, RoleMembersQuery, RoleUpdate, RolesQuery,
    UserGrantsQuery, UserGrantsRevocation, WatchStart, catalogue::CATALOGUE,
};

/// INVALID_ARGUMENT whose violations all name one of `fields` (an entry of a
/// list field, `permissions[2]`, counts as the list), with the message naming them.
fn refused_naming(err: &Error, fields: &[&str]) -> Result<(), TestCaseError> {
    prop_assert_eq!(err.kind, ErrorKind::InvalidArgument, "{:?}", err);
    prop_assert!(!err.violations.is_empty(), "{err:?}");
    for violation in &err.violations {
        let named = fields.iter().any(|field| {
            violation.field == *field || violation.field.starts_with(&format!("{field}["))
        });
        prop_assert!(named, "{:?} names none of {:?}", violation.field, fields);
        prop_assert!(err.message.contains(&violation.field), "{err:?}");
    }
    Ok(())
}

/// Mostly plausible values with arbitrary text mixed in.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9_-]{0,70}",
        "\\PC{0,600}",
        Just(String::new()),
    ]
}

fn permission_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(CATALOGUE).prop_map(|p| p.name.to_owned()),
        any::<String>(),
    ]
}

fn scope() -> impl Strategy<Value = Option<pb::Scope>> {
    use pb::scope::Scope as S;
    prop_oneof![
        Just(None),
        Just(Some(pb::Scope { scope: None })),
        Just(Some(pb::Scope {
            scope: Some(S::Network(pb::NetworkScope {}))
        })),
        text().prop_map(|id| Some(pb::Scope {
            scope: Some(S::ChannelId(id))
        })),
        text().prop_map(|id| Some(pb::Scope {
            scope: Some(S::CommunityId(id))
        })),
    ]
}

fn user_id() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), 1..1000i64, -2..2i64]
}

fn timestamp() -> impl Strategy<Value = prost_types::Timestamp> {
    prop_oneof![
        (any::<i64>(), any::<i32>()),
        (-62_135_596_800..253_402_300_799i64, 0..1_000_000_000i32),
        (any::<i64>(), 999_999_990..1_000_000_010i32),
    ]
    .prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos })
}

/// Arbitrary text, arbitrary bytes in the token encoding, and real tokens.
fn page_token() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        (text(), any::<i64>())
            .prop_map(|(after_name, _)| paging::encode(&RolesPosition { after_name })),
        (user_id(), any::<i64>()).prop_map(|(user_id, after_id)| paging::encode(
            &UserGrantsPosition { user_id, after_id }
        )),
        (text(), any::<i64>(), any::<i64>()).prop_map(|(role, user_id, after_id)| {
            paging::encode(&MembersPosition {
                role,
                user_id,
                after_id,
            })
        }),
        Just(String::new()),
    ]
}

fn cursor() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        any::<i64>().prop_map(|n| n.to_string()),
        Just(String::new()),
    ]
}

const SCOPE: &[&str] = &["scope", "scope.channel_id", "scope.community_id"];

proptest! {
    #[test]
    fn create_role_requests(
        name in text(),
        description in text(),
        permissions in proptest::collection::vec(permission_name(), 0..6),
    ) {
        let request = pb::CreateRoleRequest { name, description, permissions };
        match NewRole::try_from(request.clone()) {
            Ok(new) => {
                prop_assert_eq!(new.name, request.name);
                prop_assert_eq!(new.description, request.description);
                prop_assert_eq!(new.permissions.len() <= request.permissions.len(), true);
            }
            Err(err) => refused_naming(&err, &["name", "description", "permissions"])?,
        }
    }

    #[test]
    fn update_role_requests(
        name in any::<String>(),
        paths in proptest::collection::vec(
            prop_oneof![Just("description".to_owned()), Just("permissions".to_owned()), any::<String>()],
            0..4,
        ),
        description in text(),
        permissions in proptest::collection::vec(permission_name(), 0..4),
        expected_version in any::<i64>(),
        mask in any::<bool>(),
    ) {
        let request = pb::UpdateRoleRequest {
            name,
            update_mask: mask.then(|| prost_types::FieldMask { paths: paths.clone() }),
            description,
            permissions,
            expected_version,
        };
        match RoleUpdate::try_from(request.clone()) {
            Ok(update) => {
                prop_assert!(mask && !paths.is_empty());
                prop_assert_eq!(update.name, request.name);
                prop_assert_eq!(update.description.is_some(), paths.iter().any(|p| p == "description"));
                prop_assert_eq!(update.permissions.is_some(), paths.iter().any(|p| p == "permissions"));
                prop_assert_eq!(update.expected_version, (expected_version != 0).then_some(expected_version));
            }
            Err(err) => refused_naming(&err, &["update_mask", "description", "permissions"])?,
        }
    }

    #[test]
    fn grant_requests(
        user_id in user_id(),
        role in any::<String>(),
        scope in scope(),
        expires_at in proptest::option::of(timestamp()),
    ) {
        let request = pb::GrantRoleRequest { user_id, role, scope, expires_at };
        match GrantRequest::try_from(request.clone()) {
            Ok(grant) => {
                prop_assert!(grant.user_id > 0 && request.scope.and_then(|s| s.scope).is_some());
                if let (Some(parsed), Some(sent)) = (grant.expires_at, request.expires_at) {
                    prop_assert_eq!(convert::timestamp(parsed), sent);
                }
            }
            Err(err) => refused_naming(&err, &[&["user_id", "expires_at"][..], SCOPE].concat())?,
        }
    }

    #[test]
    fn revoke_requests(user_id in user_id(), role in any::<String>(), scope in scope()) {
        let request = pb::RevokeRoleRequest { user_id, role, scope };
        match RevokeRequest::try_from(request.clone()) {
            Ok(revoke) => {
                prop_assert!(revoke.user_id > 0);
                prop_assert_eq!(Some(revoke.scope.to_proto()), request.scope.clone().map(|s| {
                    // An explicit network scope reads back as itself.
                    if s.scope.is_none() { Scope::Network.to_proto() } else { s }
                }));
            }
            Err(err) => refused_naming(&err, &[&["user_id"][..], SCOPE].concat())?,
        }
    }

    #[test]
    fn revoke_user_grants_requests(user_id in user_id(), dry_run in any::<bool>()) {
        match UserGrantsRevocation::try_from(pb::RevokeUserGrantsRequest { user_id, dry_run }) {
            Ok(parsed) => prop_assert_eq!(parsed, UserGrantsRevocation { user_id, dry_run }),
            Err(err) => {
                prop_assert!(user_id <= 0);
                refused_naming(&err, &["user_id"])?;
            }
        }
    }

    #[test]
    fn check_requests(user_id in user_id(), permission in permission_name(), scope in scope()) {
        let request = pb::CheckPermissionRequest { user_id, permission, scope };
        match CheckQuery::try_from(request.clone()) {
            Ok(query) => {
                prop_assert_eq!(query.user_id, request.user_id);
                prop_assert_eq!(query.permission, request.permission);
            }
            Err(err) => refused_naming(&err, &[&["user_id", "permission"][..], SCOPE].concat())?,
        }
    }

    #[test]
    fn batch_check_requests(
        checks in proptest::collection::vec(
            (user_id(), permission_name(), scope()).prop_map(|(user_id, permission, scope)| {
                pb::PermissionCheck { user_id, permission, scope }
            }),
            0..110,
        ),
    ) {
        let count = checks.len();
        match convert::check_queries(pb::BatchCheckPermissionsRequest { checks }) {
            Ok(queries) => prop_assert!(queries.len() == count && (1..=100).contains(&count)),
            Err(err) => {
                prop_assert_eq!(err.kind, ErrorKind::InvalidArgument);
                prop_assert_eq!(err.violations.len(), 1);
                let field = &err.violations[0].field;
                prop_assert!(
                    field == "checks" || field.starts_with("checks["),
                    "{field}"
                );
                prop_assert!(err.message.contains(field.as_str()));
            }
        }
    }

    #[test]
    fn watch_requests(after_cursor in cursor(), from_now in any::<bool>()) {
        let request = pb::WatchRoleEventsRequest { after_cursor: after_cursor.clone(), from_now };
        match WatchStart::try_from(request) {
            Ok(WatchStart::FromNow) => prop_assert!(from_now && after_cursor.is_empty()),
            Ok(WatchStart::After(seq)) => {
                prop_assert!(!from_now && seq >= 0);
                prop_assert!(after_cursor.is_empty() || after_cursor == seq.to_string());
            }
            Err(err) => {
                refused_naming(&err, &["after_cursor", "from_now"])?;
                if !from_now {
                    prop_assert_eq!(err.reason, "CURSOR_INVALID");
                }
            }
        }
    }

    #[test]
    fn list_roles_requests(page_size in any::<u32>(), page_token in page_token()) {
        let request = pb::ListRolesRequest { page_size, page_token };
        match RolesQuery::try_from(request) {
            Ok(query) => prop_assert!((1..=100).contains(&query.limit)),
            Err(err) => refused_naming(&err, &["page_size", "page_token"])?,
        }
    }

    #[test]
    fn list_user_roles_requests(user_id in user_id(), page_size in any::<u32>(), page_token in page_token()) {
        let request = pb::ListUserRolesRequest { user_id, page_size, page_token };
        match UserGrantsQuery::try_from(request) {
            Ok(query) => prop_assert!(query.user_id > 0 && (1..=100).contains(&query.limit)),
            Err(err) => refused_naming(&err, &["user_id", "page_size", "page_token"])?,
        }
    }

    #[test]
    fn list_role_members_requests(role in text(), page_size in any::<u32>(), page_token in page_token()) {
        let request = pb::ListRoleMembersRequest { role, page_size, page_token };
        match RoleMembersQuery::try_from(request) {
            Ok(query) => prop_assert!((1..=100).contains(&query.limit)),
            Err(err) => refused_naming(&err, &["page_size", "page_token"])?,
        }
    }

    #[test]
    fn page_positions_round_trip_and_stay_bound_to_their_query(
        user_id in 1..i64::MAX,
        other in 1..i64::MAX,
        after_id in any::<i64>(),
        role in text(),
        other_role in text(),
    ) {
        let token = paging::encode(&UserGrantsPosition { user_id, after_id });
        let same = UserGrantsQuery::try_from(pb::ListUserRolesRequest {
            user_id,
            page_size: 0,
            page_token: token.clone(),
        });
        prop_assert_eq!(same.ok().map(|q| q.after_id), Some(after_id));
        let foreign = UserGrantsQuery::try_from(pb::ListUserRolesRequest {
            user_id: other,
            page_size: 0,
            page_token: token,
        });
        prop_assert_eq!(foreign.is_ok(), user_id == other);

        let token = paging::encode(&MembersPosition { role: role.clone(), user_id, after_id });
        let same = RoleMembersQuery::try_from(pb::ListRoleMembersRequest {
            role: role.clone(),
            page_size: 0,
            page_token: token.clone(),
        });
        prop_assert_eq!(same.ok().and_then(|q| q.after), Some((user_id, after_id)));
        let foreign = RoleMembersQuery::try_from(pb::ListRoleMembersRequest {
            role: other_role.clone(),
            page_size: 0,
            page_token: token,
        });
        match foreign {
            Ok(_) => prop_assert_eq!(&role, &other_role),
            Err(err) => {
                prop_assert_eq!(err.reason, "PAGE_TOKEN_INVALID");
                refused_naming(&err, &["page_token"])?;
            }
        }
    }

    #[test]
    fn timestamps(ts in timestamp()) {
        match convert::time_from("expires_at", &ts) {
            Ok(at) => prop_assert_eq!(convert::timestamp(at), ts),
            Err(err) => refused_naming(&err, &["expires_at"])?,
        }
    }
}
