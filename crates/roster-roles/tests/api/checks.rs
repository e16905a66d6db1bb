//! Permission checks: batches, and the cached PermissionChecker other services use.

use super::*;

on_both_backends!(
    batch_checks_answer_per_item,
    permission_checker_caches_and_follows_revokes,
);

async fn batch_checks_answer_per_item(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    grant(&mut admin, 100, "channel-moderator", channel("a")).await;
    grant(&mut admin, 101, "community-moderator", network()).await;
    let check = |user_id: i64, permission: &str, scope: Option<pb::Scope>| pb::PermissionCheck {
        user_id,
        permission: permission.into(),
        scope,
    };
    let results = admin
        .batch_check_permissions(pb::BatchCheckPermissionsRequest {
            checks: vec![
                check(100, "MUTE_CHANNEL", channel("a")),
                check(100, "MUTE_CHANNEL", channel("b")),
                check(101, "EDIT_COMMUNITY", community("z")),
                check(101, "MUTE_CHANNEL", channel("a")),
                check(102, "EDIT_MESSAGE", None),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let allowed: Vec<bool> = results.iter().map(|r| r.allowed).collect();
    assert_eq!(allowed, [true, false, true, false, false]);
    assert_eq!(
        results[2].granted_by.as_ref().unwrap().role,
        "community-moderator"
    );
    assert!(results[1].granted_by.is_none());

    let status = assert_refused(
        admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                checks: vec![check(100, "MUTE_CHANNEL", None), check(100, "FLY", None)],
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["checks[1].permission"]);
    let too_many = (0..101)
        .map(|i| check(i + 1, "MUTE_CHANNEL", None))
        .collect();
    assert_refused(
        admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest { checks: too_many })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    let hundred = (0..100)
        .map(|i| check(i + 1, "MUTE_CHANNEL", None))
        .collect();
    let results = admin
        .batch_check_permissions(pb::BatchCheckPermissionsRequest { checks: hundred })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 100);
}
async fn permission_checker_caches_and_follows_revokes(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_on(first.database.clone()).await;
    let mut admin = first.admin().await;
    let moderator = 130;
    grant(&mut admin, moderator, "channel-moderator", channel("a")).await;

    // The checker follows the second instance; the revoke goes through the first.
    let checker = checker_on(&second).await;
    let actor = Actor::User {
        user_id: moderator,
        generation: 0,
    };
    let in_a = || Scope::Channel("a".into());

    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), 1);
    // A cached answer asks nothing.
    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), 1);

    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, "PERMISSION_DENIED");
    assert_eq!(Status::from(err).code(), Code::PermissionDenied);
    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("BAN_CHANNEL_USER") && err.message.contains("channel b"),
        "{}",
        err.message
    );
    assert_eq!(checker.remote_checks(), 2, "the denial is cached too");

    // Admin and service callers are not checked.
    let before = checker.remote_checks();
    checker
        .require(
            &Actor::Admin {
                client: "ops".into(),
            },
            "BAN_USER",
            Scope::Network,
        )
        .await
        .unwrap();
    checker
        .require(
            &Actor::Service {
                name: "moderation".into(),
            },
            "BAN_USER",
            Scope::Network,
        )
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), before);

    let revoked = admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: moderator,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(GUARD, checker.wait_until_seen(&revoked.event_cursor))
        .await
        .expect("revoke event reached the checker")
        .unwrap();
    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap_err();
    assert_eq!(err.reason, "PERMISSION_DENIED");

    // A grant invalidates a cached denial the same way.
    let granted = grant(&mut admin, moderator, "channel-moderator", channel("b")).await;
    tokio::time::timeout(GUARD, checker.wait_until_seen(&granted.event_cursor))
        .await
        .expect("grant event reached the checker")
        .unwrap();
    checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap();

    // Role edits drop every cached answer.
    let mut permissions: BTreeSet<&str> = BTreeSet::new();
    permissions.insert("EDIT_MESSAGE");
    create_role(
        &mut admin,
        "editors",
        &permissions.iter().copied().collect::<Vec<_>>(),
    )
    .await;
    grant(&mut admin, 131, "editors", network()).await;
    let editor = Actor::User {
        user_id: 131,
        generation: 0,
    };
    checker
        .require(&editor, "EDIT_MESSAGE", Scope::Network)
        .await
        .unwrap();
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "editors".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(GUARD, checker.wait_until_seen(&deleted.event_cursor))
        .await
        .expect("deletion reached the checker")
        .unwrap();
    assert!(
        checker
            .require(&editor, "EDIT_MESSAGE", Scope::Network)
            .await
            .is_err()
    );
}
