//! Grants: who may grant what where, scopes, expiry, protected targets, listings.

use super::*;

on_both_backends!(
    grants_need_assign_user_role_in_their_scope,
    scoped_grants_apply_only_in_their_scope,
    global_admin_and_member_cannot_be_granted,
    protected_targets_need_an_exempt_actor,
    expiry_is_validated_and_expired_grants_stop_counting,
    listings_are_paged,
);

async fn grants_need_assign_user_role_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (nobody, channel_admin, network_admin, narrow_admin, target) = (40, 41, 42, 43, 49);
    let channel_moderator: Vec<&str> = BuiltInRole::ChannelModerator
        .permissions()
        .iter()
        .copied()
        .collect();
    let mut assigners = channel_moderator.clone();
    assigners.push("ASSIGN_USER_ROLE");
    create_role(&mut admin, "assigners", &assigners).await;
    create_role(&mut admin, "narrow-assigners", &["ASSIGN_USER_ROLE"]).await;
    grant(&mut admin, channel_admin, "assigners", channel("a")).await;
    grant(&mut admin, network_admin, "assigners", network()).await;
    grant(&mut admin, narrow_admin, "narrow-assigners", network()).await;

    let grant_in = |scope: Option<pb::Scope>| pb::GrantRoleRequest {
        user_id: target,
        role: "channel-moderator".into(),
        scope,
        expires_at: None,
    };
    let revoke_in = |scope: Option<pb::Scope>| pb::RevokeRoleRequest {
        user_id: target,
        role: "channel-moderator".into(),
        scope,
    };

    let mut client = app.user(nobody).await;
    assert_refused(
        client.grant_role(grant_in(channel("a"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // Held in channel a: grants there, not in channel b nor network-wide.
    let mut client = app.user(channel_admin).await;
    let granted = client
        .grant_role(grant_in(channel("a")))
        .await
        .unwrap()
        .into_inner();
    assert!(granted.created);
    assert_eq!(
        granted.grant.unwrap().granted_by,
        format!("user:{channel_admin}")
    );
    assert_refused(
        client.grant_role(grant_in(channel("b"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        client.grant_role(grant_in(network())).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // Revoke: the same rule.
    let mut outsider = app.user(nobody).await;
    assert_refused(
        outsider.revoke_role(revoke_in(channel("a"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    client.revoke_role(revoke_in(channel("a"))).await.unwrap();
    assert_refused(
        client.revoke_role(revoke_in(channel("a"))).await,
        Code::NotFound,
        "GRANT_NOT_FOUND",
    );

    // Held network-wide: grants anywhere.
    let mut client = app.user(network_admin).await;
    client.grant_role(grant_in(channel("b"))).await.unwrap();
    client.grant_role(grant_in(network())).await.unwrap();
    client.revoke_role(revoke_in(network())).await.unwrap();

    // No escalation: ASSIGN_USER_ROLE alone cannot hand out channel-moderator.
    let mut client = app.user(narrow_admin).await;
    assert_refused(
        client.grant_role(grant_in(channel("c"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // A scope is required to grant or revoke.
    let status = assert_refused(
        admin.grant_role(grant_in(None)).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["scope"]);
    assert_refused(
        admin.revoke_role(revoke_in(None)).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_refused(
        admin
            .grant_role(pb::GrantRoleRequest {
                role: "no-such-role".into(),
                ..grant_in(network())
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );

    // Granting again replaces the expiry and says so.
    let first = grant(&mut admin, 48, "community-moderator", community("x")).await;
    assert!(first.created);
    let again = grant(&mut admin, 48, "community-moderator", community("x")).await;
    assert!(!again.created);
}
async fn scoped_grants_apply_only_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (in_a, everywhere, in_x) = (50, 51, 52);
    grant(&mut admin, in_a, "channel-moderator", channel("a")).await;
    grant(&mut admin, everywhere, "channel-moderator", network()).await;
    grant(&mut admin, in_x, "community-moderator", community("x")).await;

    assert!(allowed(&mut admin, in_a, "BAN_CHANNEL_USER", channel("a")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", channel("b")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", community("a")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", network()).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", None).await);

    for scope in [channel("a"), channel("b"), community("x"), network()] {
        assert!(allowed(&mut admin, everywhere, "BAN_CHANNEL_USER", scope).await);
    }

    assert!(allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", community("x")).await);
    assert!(!allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", community("y")).await);
    assert!(!allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", channel("x")).await);

    // The reason names the role and the scope.
    let answer = admin
        .check_permission(pb::CheckPermissionRequest {
            user_id: in_a,
            permission: "DELETE_MESSAGE".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    let by = answer.granted_by.unwrap();
    assert_eq!(by.role, "channel-moderator");
    assert_eq!(by.scope, channel("a"));
    assert!(answer.valid_until.is_none());

    let status = assert_refused(
        admin
            .check_permission(pb::CheckPermissionRequest {
                user_id: in_a,
                permission: "DELETE_MESSAGE".into(),
                scope: channel(""),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["scope.channel_id"]);
}
async fn global_admin_and_member_cannot_be_granted(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    for role in ["global-admin", "member"] {
        let status = assert_refused(
            admin
                .grant_role(pb::GrantRoleRequest {
                    user_id: 60,
                    role: role.into(),
                    scope: network(),
                    expires_at: None,
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_NOT_ASSIGNABLE",
        );
        assert!(status.message().contains(role), "{}", status.message());
    }
    // The bootstrap path works, and the bootstrapped admin may assign roles.
    roster_roles::bootstrap_global_admin(&app.db, 60)
        .await
        .unwrap();
    assert!(allowed(&mut admin, 60, "ASSIGN_USER_ROLE", channel("q")).await);
    let mut global_admin = app.user(60).await;
    grant(&mut global_admin, 61, "super-moderator", network()).await;
    let members = admin
        .list_role_members(pb::ListRoleMembersRequest {
            role: "global-admin".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].granted_by, "bootstrap");
    // Every user holds member implicitly; it has no members to list.
    let members = admin
        .list_role_members(pb::ListRoleMembersRequest {
            role: "member".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(members.is_empty());
}
async fn protected_targets_need_an_exempt_actor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (assigner, super_moderator, ordinary, global_admin) = (70, 71, 72, 73);
    let mut permissions: Vec<&str> = BuiltInRole::ChannelModerator
        .permissions()
        .iter()
        .copied()
        .collect();
    permissions.push("ASSIGN_USER_ROLE");
    create_role(&mut admin, "assigners", &permissions).await;
    grant(&mut admin, assigner, "assigners", network()).await;
    grant(&mut admin, super_moderator, "super-moderator", network()).await;
    grant(
        &mut admin,
        super_moderator,
        "channel-moderator",
        channel("a"),
    )
    .await;
    roster_roles::bootstrap_global_admin(&app.db, global_admin)
        .await
        .unwrap();

    let mut client = app.user(assigner).await;
    let to = |user_id: i64| pb::GrantRoleRequest {
        user_id,
        role: "channel-moderator".into(),
        scope: channel("b"),
        expires_at: None,
    };
    client.grant_role(to(ordinary)).await.unwrap();
    let status = assert_refused(
        client.grant_role(to(super_moderator)).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert!(status.message().contains("EXEMPT_FROM_MODERATION"));
    assert_refused(
        client.grant_role(to(global_admin)).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        client
            .revoke_role(pb::RevokeRoleRequest {
                user_id: super_moderator,
                role: "channel-moderator".into(),
                scope: channel("a"),
            })
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    // An exempt assigner (the global admin) may.
    let mut exempt = app.user(global_admin).await;
    exempt.grant_role(to(super_moderator)).await.unwrap();
    exempt
        .revoke_role(pb::RevokeRoleRequest {
            user_id: super_moderator,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap();
}
async fn expiry_is_validated_and_expired_grants_stop_counting(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let now = app.clock.now();
    let status = assert_refused(
        admin
            .grant_role(pb::GrantRoleRequest {
                user_id: 80,
                role: "channel-moderator".into(),
                scope: channel("a"),
                expires_at: Some(ts(now - chrono::Duration::seconds(1))),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["expires_at"]);

    let expires = now + chrono::Duration::hours(1);
    let granted = admin
        .grant_role(pb::GrantRoleRequest {
            user_id: 80,
            role: "channel-moderator".into(),
            scope: channel("a"),
            expires_at: Some(ts(expires)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granted.grant.unwrap().expires_at, Some(ts(expires)));
    let answer = admin
        .check_permission(pb::CheckPermissionRequest {
            user_id: 80,
            permission: "BAN_CHANNEL_USER".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.allowed);
    assert_eq!(answer.valid_until, Some(ts(expires)));

    app.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    assert!(!allowed(&mut admin, 80, "BAN_CHANNEL_USER", channel("a")).await);
    let listed = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 80,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(listed.is_empty());
    // An expired grant does not keep a role in use.
    create_role(&mut admin, "temp", &["EDIT_MESSAGE"]).await;
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: 81,
            role: "temp".into(),
            scope: network(),
            expires_at: Some(ts(app.clock.now() + chrono::Duration::minutes(5))),
        })
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(6));
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "temp".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 0);
}
async fn listings_are_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    for user in [95, 91, 93] {
        grant(&mut admin, user, "channel-moderator", channel("a")).await;
    }
    grant(&mut admin, 93, "channel-moderator", channel("b")).await;
    for name in ["r1", "r2", "r3"] {
        create_role(&mut admin, name, &[]).await;
    }

    let mut members = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_role_members(pb::ListRoleMembersRequest {
                role: "channel-moderator".into(),
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.grants.len() <= 2);
        members.extend(page.grants.into_iter().map(|g| (g.user_id, g.scope)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        members,
        [
            (91, channel("a")),
            (93, channel("a")),
            (93, channel("b")),
            (95, channel("a"))
        ]
    );

    let first = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 93,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.grants.len(), 1);
    assert_eq!(first.grants[0].scope, channel("a"));
    let second = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 93,
            page_size: 1,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.grants[0].scope, channel("b"));
    assert_refused(
        admin
            .list_user_roles(pb::ListUserRolesRequest {
                user_id: 91,
                page_size: 1,
                page_token: first.next_page_token,
            })
            .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_roles(pb::ListRolesRequest {
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.roles.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "member",
            "r1",
            "r2",
            "r3",
            "super-moderator"
        ]
    );
    assert_refused(
        admin
            .list_roles(pb::ListRolesRequest {
                page_size: 101,
                page_token: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
}
