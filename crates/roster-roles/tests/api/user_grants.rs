//! RevokeUserGrants: the role step of a user's deletion.

use std::collections::BTreeMap;

use roster_roles::domain::{GrantRequest, ports::GrantRepository};

use super::*;

on_both_backends!(
    revokes_every_grant_of_the_user_with_one_event_each,
    a_second_call_revokes_nothing,
    a_dry_run_counts_and_changes_nothing,
    permission_checkers_follow_the_revocation,
    only_admin_and_service_callers_may_revoke_a_users_grants,
    a_thousand_grants_are_revoked_in_one_call,
);

async fn revoke_all(
    client: &mut Client,
    user_id: i64,
    dry_run: bool,
) -> pb::RevokeUserGrantsResponse {
    client
        .revoke_user_grants(pb::RevokeUserGrantsRequest { user_id, dry_run })
        .await
        .unwrap_or_else(|s| panic!("revoking the grants of {user_id}: {s:?}"))
        .into_inner()
}

async fn grants_of(client: &mut Client, user_id: i64) -> Vec<pb::RoleGrant> {
    client
        .list_user_roles(pb::ListUserRolesRequest {
            user_id,
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .grants
}

/// (role, scope) of a grant, comparable.
fn held(grant: &pb::RoleGrant) -> (String, Option<pb::Scope>) {
    (grant.role.clone(), grant.scope.clone())
}

async fn revokes_every_grant_of_the_user_with_one_event_each(backend: Backend) {
    use pb::RoleEventKind as K;
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (leaving, staying) = (200, 201);
    create_role(&mut admin, "helpers", &["EDIT_MESSAGE"]).await;
    let mut expected = BTreeMap::new();
    for (role, scope) in [
        ("channel-moderator", channel("a")),
        ("community-moderator", community("c")),
        ("super-moderator", network()),
        ("helpers", channel("b")),
    ] {
        let granted = grant(&mut admin, leaving, role, scope).await.grant.unwrap();
        expected.insert(format!("{role} {:?}", granted.scope), granted);
    }
    // An expired grant is revoked too.
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: leaving,
            role: "helpers".into(),
            scope: network(),
            expires_at: Some(ts(app.clock.now() + chrono::Duration::minutes(5))),
        })
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(6));
    grant(&mut admin, staying, "channel-moderator", channel("a")).await;
    assert_eq!(
        grants_of(&mut admin, leaving).await.len(),
        4,
        "the expired grant is not listed"
    );

    let mut watch = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap()
        .into_inner();
    let mut moderation = app.service_client().await;
    let revoked = revoke_all(&mut moderation, leaving, false).await;
    assert_eq!(revoked.revoked_count, 5);

    let mut seen = BTreeMap::new();
    let mut cursors = Vec::new();
    for _ in 0..5 {
        let event = next_event(&mut watch).await;
        assert_eq!(event.kind, K::RoleRevoked as i32, "{event:?}");
        let grant = event.grant.unwrap();
        assert_eq!(grant.user_id, leaving);
        cursors.push(event.meta.unwrap().cursor.parse::<i64>().unwrap());
        seen.insert(format!("{} {:?}", grant.role, grant.scope), grant);
    }
    assert_eq!(seen.len(), 5, "one event per grant");
    for (key, grant) in &expected {
        assert_eq!(
            seen.get(key),
            Some(grant),
            "{key}: the event carries the grant as it was"
        );
    }
    assert!(seen.contains_key(&format!("helpers {:?}", network())));
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert_eq!(cursors.last().unwrap().to_string(), revoked.event_cursor);

    assert!(grants_of(&mut admin, leaving).await.is_empty());
    for (permission, scope) in [
        ("BAN_CHANNEL_USER", channel("a")),
        ("BAN_COMMUNITY_USER", community("c")),
        ("EDIT_MESSAGE", channel("b")),
        ("MUTE_CHANNEL", network()),
    ] {
        assert!(
            !allowed(&mut admin, leaving, permission, scope).await,
            "{permission}"
        );
    }
    // Other users keep theirs.
    assert!(allowed(&mut admin, staying, "BAN_CHANNEL_USER", channel("a")).await);
    assert_eq!(grants_of(&mut admin, staying).await.len(), 1);
}

async fn a_second_call_revokes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    grant(&mut admin, 210, "channel-moderator", channel("a")).await;
    grant(&mut admin, 210, "super-moderator", network()).await;
    // Checked (and so cached) before the revocation, refused after it.
    assert!(allowed(&mut admin, 210, "BAN_CHANNEL_USER", channel("a")).await);

    let first = revoke_all(&mut admin, 210, false).await;
    assert_eq!(first.revoked_count, 2);
    assert!(!allowed(&mut admin, 210, "BAN_CHANNEL_USER", channel("a")).await);
    let second = revoke_all(&mut admin, 210, false).await;
    assert_eq!(second.revoked_count, 0);
    assert_eq!(
        second.event_cursor, first.event_cursor,
        "nothing written: the cursor is still the newest event"
    );
    // A user who never held anything is no error either.
    assert_eq!(revoke_all(&mut admin, 999, false).await.revoked_count, 0);

    // Nothing was written between the first call and the next change.
    let later = grant(&mut admin, 211, "channel-moderator", channel("a")).await;
    let mut after_first = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: first.event_cursor.clone(),
            from_now: false,
        })
        .await
        .unwrap()
        .into_inner();
    let next = next_event(&mut after_first).await;
    assert_eq!(next.meta.unwrap().cursor, later.event_cursor);
}

async fn a_dry_run_counts_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    grant(&mut admin, 220, "channel-moderator", channel("a")).await;
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: 220,
            role: "community-moderator".into(),
            scope: community("c"),
            expires_at: Some(ts(app.clock.now() + chrono::Duration::minutes(5))),
        })
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(6));
    let last = grant(&mut admin, 220, "super-moderator", network()).await;
    let before: Vec<_> = grants_of(&mut admin, 220).await.iter().map(held).collect();

    let dry = revoke_all(&mut admin, 220, true).await;
    assert_eq!(dry.revoked_count, 3, "expired grants are counted too");
    assert_eq!(
        dry.event_cursor, last.event_cursor,
        "the newest event, unchanged"
    );
    let after: Vec<_> = grants_of(&mut admin, 220).await.iter().map(held).collect();
    assert_eq!(after, before);
    assert!(allowed(&mut admin, 220, "BAN_CHANNEL_USER", channel("a")).await);

    // The dry run wrote no event: the next one is the real revocation's first.
    let real = revoke_all(&mut admin, 220, false).await;
    assert_eq!(real.revoked_count, 3);
    let mut after_last = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: last.event_cursor.clone(),
            from_now: false,
        })
        .await
        .unwrap()
        .into_inner();
    let first_after = next_event(&mut after_last).await;
    assert_eq!(first_after.kind, pb::RoleEventKind::RoleRevoked as i32);
    assert_eq!(
        first_after.meta.unwrap().cursor.parse::<i64>().unwrap(),
        last.event_cursor.parse::<i64>().unwrap() + 1
    );
    assert_eq!(revoke_all(&mut admin, 220, true).await.revoked_count, 0);
}

async fn permission_checkers_follow_the_revocation(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_on(first.database.clone()).await;
    let mut admin = first.admin().await;
    let moderator = 230;
    grant(&mut admin, moderator, "channel-moderator", channel("a")).await;
    grant(&mut admin, moderator, "community-moderator", community("c")).await;

    // The checker follows the second instance; the revocation goes through the first.
    let checker = checker_on(&second).await;
    let actor = Actor::User {
        user_id: moderator,
        generation: 0,
    };
    let in_a = || Scope::Channel("a".into());
    let in_c = || Scope::Community("c".into());
    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    checker
        .require(&actor, "BAN_COMMUNITY_USER", in_c())
        .await
        .unwrap();
    let asked = checker.remote_checks();
    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), asked, "the answer is cached");

    let mut moderation = first.service_client().await;
    let revoked = revoke_all(&mut moderation, moderator, false).await;
    assert_eq!(revoked.revoked_count, 2);
    tokio::time::timeout(GUARD, checker.wait_until_seen(&revoked.event_cursor))
        .await
        .expect("the revocation reached the checker")
        .unwrap();
    for (permission, scope) in [("BAN_CHANNEL_USER", in_a()), ("BAN_COMMUNITY_USER", in_c())] {
        let err = checker
            .require(&actor, permission, scope)
            .await
            .unwrap_err();
        assert_eq!(err.reason, "PERMISSION_DENIED", "{permission}");
    }
    assert!(
        checker.remote_checks() > asked,
        "the cached answers were dropped"
    );
}

async fn only_admin_and_service_callers_may_revoke_a_users_grants(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (target, global_admin) = (240, 241);
    grant(&mut admin, target, "channel-moderator", channel("a")).await;
    roster_roles::bootstrap_global_admin(&app.db, global_admin)
        .await
        .unwrap();

    // No user may, not even a global admin, nor the user itself.
    for user in [global_admin, target] {
        let mut client = app.user(user).await;
        for dry_run in [false, true] {
            assert_refused(
                client
                    .revoke_user_grants(pb::RevokeUserGrantsRequest {
                        user_id: target,
                        dry_run,
                    })
                    .await,
                Code::PermissionDenied,
                "PERMISSION_DENIED",
            );
        }
    }
    assert_eq!(
        grants_of(&mut admin, target).await.len(),
        1,
        "nothing changed"
    );

    // Bad input is refused naming the field, and changes nothing.
    for user_id in [0, -1] {
        let status = assert_refused(
            admin
                .revoke_user_grants(pb::RevokeUserGrantsRequest {
                    user_id,
                    dry_run: false,
                })
                .await,
            Code::InvalidArgument,
            "INVALID_FIELD",
        );
        assert_eq!(fields(&status), ["user_id"]);
    }
    assert_eq!(grants_of(&mut admin, target).await.len(), 1);

    // Without a token: unauthenticated.
    let channel = Channel::from_shared(app.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = RoleServiceClient::new(channel)
        .revoke_user_grants(pb::RevokeUserGrantsRequest {
            user_id: target,
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A service (moderation's deletion cascade) and an admin may.
    let mut moderation = app.service_client().await;
    assert_eq!(
        revoke_all(&mut moderation, target, true)
            .await
            .revoked_count,
        1
    );
    assert_eq!(revoke_all(&mut admin, target, false).await.revoked_count, 1);
}

async fn a_thousand_grants_are_revoked_in_one_call(backend: Backend) {
    const GRANTS: usize = 1000;
    let app = spawn_app(backend).await;
    let user_id = 250;
    let store = roster_roles::Store::new(app.db.clone());
    let now = app.clock.now();
    let mut last = 0;
    for n in 0..GRANTS {
        let request = GrantRequest {
            user_id,
            role: "channel-moderator".into(),
            scope: Scope::Channel(format!("c{n}")),
            expires_at: None,
        };
        last = store
            .grant(&request, "admin:test", now)
            .await
            .unwrap()
            .event_seq;
    }
    let mut admin = app.admin().await;
    assert_eq!(
        revoke_all(&mut admin, user_id, true).await.revoked_count,
        GRANTS as i64
    );

    let revoked = revoke_all(&mut admin, user_id, false).await;
    assert_eq!(revoked.revoked_count, GRANTS as i64);
    assert_eq!(
        revoked.event_cursor.parse::<i64>().unwrap(),
        last + GRANTS as i64,
        "one event per grant, and nothing else"
    );
    let mut stream = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: last.to_string(),
            from_now: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut channels = BTreeSet::new();
    let mut cursor = last;
    for _ in 0..GRANTS {
        let event = next_event(&mut stream).await;
        let seq: i64 = event.meta.unwrap().cursor.parse().unwrap();
        assert_eq!(seq, cursor + 1, "the events follow each other");
        cursor = seq;
        assert_eq!(event.kind, pb::RoleEventKind::RoleRevoked as i32);
        let grant = event.grant.unwrap();
        assert_eq!(grant.user_id, user_id);
        channels.insert(format!("{:?}", grant.scope));
    }
    assert_eq!(channels.len(), GRANTS, "every grant's revocation, once");
    assert!(grants_of(&mut admin, user_id).await.is_empty());
    assert!(!allowed(&mut admin, user_id, "BAN_CHANNEL_USER", channel("c999")).await);
}
