//! Role definitions: the catalogue, built-in and custom roles, who may change them.

use super::*;

on_both_backends!(
    catalogue_is_listed_with_groups_descriptions_and_holders,
    reads_need_only_an_authenticated_caller,
    built_in_roles_are_listed_and_read_only,
    default_matrix_row_by_row,
    custom_role_lifecycle,
    role_changes_need_their_permission,
);

async fn catalogue_is_listed_with_groups_descriptions_and_holders(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut user = app.user(5).await;
    let listed = user
        .list_permissions(pb::ListPermissionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .permissions;
    assert_eq!(listed.len(), CATALOGUE.len());
    for (permission, entry) in listed.iter().zip(CATALOGUE) {
        assert_eq!(permission.name, entry.name);
        assert!(!permission.description.is_empty());
        assert_ne!(permission.group, pb::PermissionGroup::Unspecified as i32);
    }
    let find = |name: &str| listed.iter().find(|p| p.name == name).unwrap();
    assert_eq!(find("BAN_USER").built_in_roles, ["global-admin"]);
    assert_eq!(find("BAN_USER").group, pb::PermissionGroup::User as i32);
    assert_eq!(
        find("EXEMPT_FROM_MODERATION").built_in_roles,
        ["global-admin", "super-moderator"]
    );
    assert_eq!(
        find("EXEMPT_FROM_BAN").group,
        pb::PermissionGroup::Exemption as i32
    );
    assert_eq!(
        find("CONSOLE_ACCESS").group,
        pb::PermissionGroup::Access as i32
    );
    assert_eq!(
        find("MANAGE_NOTIFICATION_NETWORK_SETTING").built_in_roles,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "super-moderator"
        ]
    );
}
async fn reads_need_only_an_authenticated_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let channel = Channel::from_shared(app.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = RoleServiceClient::new(channel);
    let status = anonymous
        .list_permissions(pb::ListPermissionsRequest {})
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = anonymous
        .check_permission(pb::CheckPermissionRequest {
            user_id: 1,
            permission: "BAN_USER".into(),
            scope: None,
        })
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let refused = [
        anonymous
            .get_role(pb::GetRoleRequest {
                name: "member".into(),
            })
            .await
            .err(),
        anonymous
            .list_roles(pb::ListRolesRequest::default())
            .await
            .err(),
        anonymous
            .list_user_roles(pb::ListUserRolesRequest {
                user_id: 3,
                ..Default::default()
            })
            .await
            .err(),
        anonymous
            .list_role_members(pb::ListRoleMembersRequest {
                role: "member".into(),
                ..Default::default()
            })
            .await
            .err(),
        anonymous
            .batch_check_permissions(pb::BatchCheckPermissionsRequest::default())
            .await
            .err(),
        anonymous
            .watch_role_events(pb::WatchRoleEventsRequest::default())
            .await
            .err(),
    ];
    for status in refused {
        assert_eq!(status.map(|s| s.code()), Some(Code::Unauthenticated));
    }

    // Any user may read everything there is to read.
    let mut user = app.user(9).await;
    user.list_permissions(pb::ListPermissionsRequest {})
        .await
        .unwrap();
    user.get_role(pb::GetRoleRequest {
        name: "super-moderator".into(),
    })
    .await
    .unwrap();
    user.list_roles(pb::ListRolesRequest::default())
        .await
        .unwrap();
    user.list_user_roles(pb::ListUserRolesRequest {
        user_id: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    user.list_role_members(pb::ListRoleMembersRequest {
        role: "channel-moderator".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(!allowed(&mut user, 3, "BAN_USER", None).await);
    user.batch_check_permissions(pb::BatchCheckPermissionsRequest {
        checks: vec![pb::PermissionCheck {
            user_id: 3,
            permission: "BAN_USER".into(),
            scope: None,
        }],
    })
    .await
    .unwrap();
}
async fn built_in_roles_are_listed_and_read_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    create_role(&mut admin, "helpers", &["EDIT_MESSAGE"]).await;
    let roles = admin
        .list_roles(pb::ListRolesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .roles;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "helpers",
            "member",
            "super-moderator"
        ]
    );
    for role in BuiltInRole::ALL {
        let read = admin
            .get_role(pb::GetRoleRequest {
                name: role.name().into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(read.built_in);
        let expected: Vec<String> = role.permissions().iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(read.permissions, expected);
        assert_eq!(read.assignable, role.assignable());

        assert_refused(
            admin
                .update_role(pb::UpdateRoleRequest {
                    name: role.name().into(),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["description".into()],
                    }),
                    description: "mine now".into(),
                    ..Default::default()
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_BUILT_IN",
        );
        assert_refused(
            admin
                .delete_role(pb::DeleteRoleRequest {
                    name: role.name().into(),
                    force: true,
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_BUILT_IN",
        );
    }
    assert_refused(
        admin
            .get_role(pb::GetRoleRequest {
                name: "nope".into(),
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );
}
async fn default_matrix_row_by_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    // One user per built-in role, held network-wide; user 10 holds nothing (member).
    let member = 10;
    let holders = [
        (BuiltInRole::GlobalAdmin, 11),
        (BuiltInRole::SuperModerator, 12),
        (BuiltInRole::CommunityModerator, 13),
        (BuiltInRole::ChannelModerator, 14),
    ];
    assert!(
        roster_roles::bootstrap_global_admin(&app.db, 11)
            .await
            .unwrap()
    );
    assert!(
        !roster_roles::bootstrap_global_admin(&app.db, 11)
            .await
            .unwrap(),
        "idempotent"
    );
    for (role, user) in &holders[1..] {
        grant(&mut admin, *user, role.name(), network()).await;
    }

    for row in MATRIX {
        let columns = [
            row.holders.global_admin,
            row.holders.super_moderator,
            row.holders.community_moderator,
            row.holders.channel_moderator,
        ];
        let mut checks = Vec::new();
        let mut expected = Vec::new();
        for permission in row.permissions {
            for ((_, user), ticked) in holders.iter().zip(columns) {
                checks.push(pb::PermissionCheck {
                    user_id: *user,
                    permission: (*permission).into(),
                    scope: channel("any-channel"),
                });
                expected.push(ticked);
            }
            checks.push(pb::PermissionCheck {
                user_id: member,
                permission: (*permission).into(),
                scope: None,
            });
            expected.push(false);
        }
        let answers: Vec<bool> = admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                checks: checks.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .results
            .into_iter()
            .map(|r| r.allowed)
            .collect();
        for ((check, want), got) in checks.iter().zip(expected).zip(answers) {
            assert_eq!(
                got, want,
                "row {:?}: user {} / {}",
                row.capability, check.user_id, check.permission
            );
        }
    }
}
async fn custom_role_lifecycle(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let created = create_role(
        &mut admin,
        "helpers",
        &["EDIT_MESSAGE", "EDIT_MESSAGE", "DELETE_MESSAGE"],
    )
    .await;
    assert_eq!(created.permissions, ["DELETE_MESSAGE", "EDIT_MESSAGE"]);
    assert_eq!(created.version, 1);
    assert!(!created.built_in && created.assignable);
    assert!(created.created_at.is_some());

    let again = admin
        .create_role(pb::CreateRoleRequest {
            name: "helpers".into(),
            ..Default::default()
        })
        .await;
    assert_refused(again, Code::AlreadyExists, "ROLE_ALREADY_EXISTS");
    let built_in_name = admin
        .create_role(pb::CreateRoleRequest {
            name: "super-moderator".into(),
            ..Default::default()
        })
        .await;
    assert_refused(built_in_name, Code::AlreadyExists, "ROLE_ALREADY_EXISTS");
    let unknown = assert_refused(
        admin
            .create_role(pb::CreateRoleRequest {
                name: "broken".into(),
                permissions: vec!["EDIT_MESSAGE".into(), "FLY".into()],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&unknown), ["permissions[1]"]);
    let bad_name = assert_refused(
        admin
            .create_role(pb::CreateRoleRequest {
                name: "Bad Name".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&bad_name), ["name"]);

    let read = admin
        .get_role(pb::GetRoleRequest {
            name: "helpers".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, created);

    let updated = admin
        .update_role(pb::UpdateRoleRequest {
            name: "helpers".into(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["permissions".into(), "description".into()],
            }),
            description: "message helpers".into(),
            permissions: vec!["EDIT_MESSAGE".into(), "MUTE_CHANNEL_USER".into()],
            expected_version: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.description, "message helpers");
    assert_eq!(updated.permissions, ["EDIT_MESSAGE", "MUTE_CHANNEL_USER"]);
    assert_refused(
        admin
            .update_role(pb::UpdateRoleRequest {
                name: "helpers".into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
                description: "stale".into(),
                expected_version: 1,
                ..Default::default()
            })
            .await,
        Code::Aborted,
        "VERSION_CONFLICT",
    );
    assert_refused(
        admin
            .update_role(pb::UpdateRoleRequest {
                name: "helpers".into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );

    // Holders see the new permission set at once.
    grant(&mut admin, 21, "helpers", channel("a")).await;
    assert!(allowed(&mut admin, 21, "MUTE_CHANNEL_USER", channel("a")).await);
    assert!(!allowed(&mut admin, 21, "DELETE_MESSAGE", channel("a")).await);

    // Refused while granted; force revokes the grants with the role.
    assert_refused(
        admin
            .delete_role(pb::DeleteRoleRequest {
                name: "helpers".into(),
                force: false,
            })
            .await,
        Code::FailedPrecondition,
        "ROLE_IN_USE",
    );
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "helpers".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 1);
    assert!(!allowed(&mut admin, 21, "MUTE_CHANNEL_USER", channel("a")).await);
    assert_refused(
        admin
            .get_role(pb::GetRoleRequest {
                name: "helpers".into(),
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );
    let grants = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 21,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(grants.is_empty());

    // An unused role goes without force.
    create_role(&mut admin, "unused", &[]).await;
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "unused".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 0);
}
async fn role_changes_need_their_permission(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (nobody, creator, editor, deleter) = (30, 31, 32, 33);
    create_role(
        &mut admin,
        "role-creators",
        &["CREATE_ROLE", "EDIT_MESSAGE"],
    )
    .await;
    create_role(
        &mut admin,
        "role-editors",
        &["EDIT_ROLE", "EDIT_MESSAGE", "DELETE_MESSAGE"],
    )
    .await;
    create_role(&mut admin, "role-deleters", &["DELETE_ROLE"]).await;
    grant(&mut admin, creator, "role-creators", network()).await;
    grant(&mut admin, editor, "role-editors", network()).await;
    grant(&mut admin, deleter, "role-deleters", network()).await;
    create_role(&mut admin, "target", &["EDIT_MESSAGE"]).await;

    let new_role = |name: &str| pb::CreateRoleRequest {
        name: name.into(),
        description: String::new(),
        permissions: vec!["EDIT_MESSAGE".into()],
    };
    let edit = || pb::UpdateRoleRequest {
        name: "target".into(),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["permissions".into()],
        }),
        permissions: vec!["EDIT_MESSAGE".into(), "DELETE_MESSAGE".into()],
        ..Default::default()
    };
    let delete = || pb::DeleteRoleRequest {
        name: "target".into(),
        force: false,
    };

    // Without the permission: refused.
    for user in [nobody, editor, deleter] {
        let mut client = app.user(user).await;
        assert_refused(
            client.create_role(new_role("mine")).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    for user in [nobody, creator, deleter] {
        let mut client = app.user(user).await;
        assert_refused(
            client.update_role(edit()).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    for user in [nobody, creator, editor] {
        let mut client = app.user(user).await;
        assert_refused(
            client.delete_role(delete()).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    // A channel-scoped CREATE_ROLE is not network-wide.
    grant(&mut admin, nobody, "channel-moderator", channel("a")).await;
    let mut scoped = app.user(nobody).await;
    assert_refused(
        scoped.create_role(new_role("mine")).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // No escalation: a role may only carry permissions its creator holds.
    let mut client = app.user(creator).await;
    let status = assert_refused(
        client
            .create_role(pb::CreateRoleRequest {
                name: "power".into(),
                permissions: vec!["BAN_USER".into()],
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert!(
        status.message().contains("BAN_USER"),
        "{}",
        status.message()
    );

    // With it: allowed.
    client.create_role(new_role("mine")).await.unwrap();
    let mut client = app.user(editor).await;
    client.update_role(edit()).await.unwrap();
    let mut client = app.user(deleter).await;
    client.delete_role(delete()).await.unwrap();

    // A service token is accepted only for the calls services make (checks,
    // the event stream), never for changing roles.
    let mut service = app.service_client().await;
    assert_refused(
        service.create_role(new_role("from-service")).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    service
        .check_permission(pb::CheckPermissionRequest {
            user_id: creator,
            permission: "CREATE_ROLE".into(),
            scope: None,
        })
        .await
        .unwrap();

    // The event stream is for admin and service callers only.
    let mut user = app.user(creator).await;
    assert_refused(
        user.watch_role_events(pb::WatchRoleEventsRequest::default())
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    service
        .watch_role_events(pb::WatchRoleEventsRequest::default())
        .await
        .unwrap();
}
