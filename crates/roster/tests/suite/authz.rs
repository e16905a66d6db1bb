//! Authorisation across the services, with real roles: who may call what.

use roster_kit::testing::Backend;
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::{
    Client, TestApp, assert_refused, by_id, create, expect_err, files_as, png, rename, upload,
};
use crate::on_both_backends;

on_both_backends!(
    user_rpcs_follow_the_permission_rules,
    file_rpcs_follow_the_permission_rules,
    network_roles_show_on_the_user_and_revokes_take_effect,
);

type Roles = RoleServiceClient<InterceptedService<Channel, roster_kit::auth::BearerToken>>;

async fn roles_client(app: &TestApp) -> Roles {
    RoleServiceClient::with_interceptor(
        app.channel().await,
        roster_kit::auth::BearerToken::new(&app.admin_token()).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn network() -> Option<pb::Scope> {
    Some(pb::Scope {
        scope: Some(pb::scope::Scope::Network(pb::NetworkScope {})),
    })
}

/// Grants `role` network-wide and waits until the user service has seen it.
async fn grant(app: &TestApp, roles: &mut Roles, user: &pb::User, role: &str) -> String {
    let cursor = roles
        .grant_role(pb::GrantRoleRequest {
            user_id: user.id,
            role: role.into(),
            scope: network(),
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("granting {role}: {s:?}"))
        .into_inner()
        .event_cursor;
    app.users
        .role_sync
        .wait_until_applied(&cursor)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    cursor
}

async fn editor_role(roles: &mut Roles) {
    roles
        .create_role(pb::CreateRoleRequest {
            name: "profile-editor".into(),
            description: "May edit other users' profiles".into(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
}

fn go_online(id: i64) -> pb::SetPresenceRequest {
    pb::SetPresenceRequest {
        user: by_id(id),
        online: Some(true),
        ..Default::default()
    }
}

async fn assert_admin_only(client: &mut Client, someone: &pb::User) {
    let refused = [
        expect_err(
            client
                .create_user(pb::CreateUserRequest {
                    name: "new".into(),
                    ..Default::default()
                })
                .await,
        ),
        expect_err(
            client
                .issue_user_token(pb::IssueUserTokenRequest {
                    name: someone.name.clone(),
                    ..Default::default()
                })
                .await,
        ),
        expect_err(
            client
                .revoke_user_tokens(pb::RevokeUserTokensRequest {
                    user: by_id(someone.id),
                })
                .await,
        ),
        match client
            .watch_user_events(pb::WatchUserEventsRequest::default())
            .await
        {
            Ok(_) => panic!("WatchUserEvents is for admins"),
            Err(status) => status,
        },
    ];
    for status in refused {
        assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    }
}

async fn user_rpcs_follow_the_permission_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_client(&app).await;
    editor_role(&mut roles).await;
    let plain = create(&mut admin, "plain", "Plain").await;
    let editor = create(&mut admin, "editor", "Editor").await;
    let moderator = create(&mut admin, "moderator", "Super Moderator").await;
    let target = create(&mut admin, "target", "Target").await;
    grant(&app, &mut roles, &editor, "profile-editor").await;
    grant(&app, &mut roles, &moderator, "super-moderator").await;

    // Without EDIT_USER: refused, and nothing changes.
    let mut as_plain = app.as_user(&plain).await;
    assert_refused(
        &expect_err(as_plain.update_user(rename(target.id, "x")).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        &expect_err(as_plain.set_presence(go_online(target.id)).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // With EDIT_USER: allowed on ordinary users.
    let mut as_editor = app.as_user(&editor).await;
    let renamed = as_editor
        .update_user(rename(target.id, "Renamed By Editor"))
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER may rename another user: {s:?}"))
        .into_inner();
    assert_eq!(renamed.display_name, "Renamed By Editor");
    as_editor
        .set_presence(go_online(target.id))
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER may set another user's presence: {s:?}"));

    // A super moderator is exempt from moderation: the editor is refused…
    assert_refused(
        &expect_err(as_editor.update_user(rename(moderator.id, "x")).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    // …and a super moderator holds no EDIT_USER of its own.
    let mut as_moderator = app.as_user(&moderator).await;
    assert_refused(
        &expect_err(as_moderator.update_user(rename(target.id, "x")).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // A global admin (bootstrapped, never granted through the API) edits anyone.
    let admin_user = create(&mut admin, "root", "Root").await;
    let connection = roster_kit::db::connect(&app.database_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    roster_roles::bootstrap_global_admin(&connection, admin_user.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut as_global_admin = app.as_user(&admin_user).await;
    as_global_admin
        .update_user(rename(moderator.id, "Renamed By Global Admin"))
        .await
        .unwrap_or_else(|s| panic!("a global admin may edit a super moderator: {s:?}"));

    // Platform operations stay with admin tokens, whatever the user's roles.
    for client in [&mut as_plain, &mut as_editor, &mut as_global_admin] {
        assert_admin_only(client, &target).await;
    }
    // Reads are open to every signed-in user.
    for client in [&mut as_plain, &mut as_editor] {
        client
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(target.id)),
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
        client
            .batch_get_users(pb::BatchGetUsersRequest {
                ids: vec![target.id],
                names: vec![],
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
        client
            .query_users(pb::QueryUsersRequest::default())
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
        client
            .get_user_avatar(pb::GetUserAvatarRequest {
                user: by_id(target.id),
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
    }
}

async fn file_rpcs_follow_the_permission_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_client(&app).await;
    editor_role(&mut roles).await;
    let plain = create(&mut admin, "plain", "Plain").await;
    let editor = create(&mut admin, "editor", "Editor").await;
    let owner = create(&mut admin, "owner", "Owner").await;
    grant(&app, &mut roles, &editor, "profile-editor").await;

    let file = upload(&app, &owner, pb::FilePurpose::Avatar, &png(40, 40)).await;
    let mut as_plain = files_as(&app, &plain).await;
    let delete = || pb::DeleteFileRequest {
        file_id: file.id.clone(),
    };
    assert_refused(
        &expect_err(as_plain.delete_file(delete()).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        &expect_err(
            as_plain
                .delete_user_files(pb::DeleteUserFilesRequest {
                    user_id: owner.id,
                    dry_run: false,
                })
                .await,
        ),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    as_plain
        .get_file(pb::GetFileRequest {
            file_id: file.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("an avatar is anyone's to read: {s:?}"));

    // An attachment is private: not even EDIT_USER reads it, and only its owner
    // (or an admin or a service) hands out links to it.
    let attachment = upload(&app, &owner, pb::FilePurpose::Attachment, b"private notes").await;
    let mut as_editor = files_as(&app, &editor).await;
    for reader in [&mut as_plain, &mut as_editor] {
        assert_refused(
            &expect_err(
                reader
                    .get_file(pb::GetFileRequest {
                        file_id: attachment.id.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
            Code::PermissionDenied,
            "FILE_ACCESS_DENIED",
        );
    }
    assert_refused(
        &expect_err(
            as_plain
                .create_download_link(pb::CreateDownloadLinkRequest {
                    file_id: attachment.id.clone(),
                    ttl_seconds: 0,
                })
                .await,
        ),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let listed = as_plain
        .list_files(pb::ListFilesRequest {
            owner_user_id: owner.id,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let ids: Vec<&str> = listed.files.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, [file.id.as_str()], "only the public avatar is listed");

    as_editor
        .delete_file(delete())
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER may delete another user's file: {s:?}"));
}

async fn network_roles_show_on_the_user_and_revokes_take_effect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_client(&app).await;
    editor_role(&mut roles).await;
    let editor = create(&mut admin, "editor", "Editor").await;
    let target = create(&mut admin, "target", "Target").await;
    grant(&app, &mut roles, &editor, "profile-editor").await;
    // A channel-scoped grant is not a network role.
    let cursor = roles
        .grant_role(pb::GrantRoleRequest {
            user_id: editor.id,
            role: "channel-moderator".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::ChannelId("general".into())),
            }),
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;
    app.users
        .role_sync
        .wait_until_applied(&cursor)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let get = |id| pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(id)),
    };
    let shown = admin
        .get_user(get(editor.id))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(shown.roles, ["profile-editor"]);

    let mut as_editor = app.as_user(&editor).await;
    as_editor
        .update_user(rename(target.id, "Before"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    let revoked = roles
        .revoke_role(pb::RevokeRoleRequest {
            user_id: editor.id,
            role: "profile-editor".into(),
            scope: network(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;
    app.users
        .role_sync
        .wait_until_applied(&revoked)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.users
        .directory
        .permissions()
        .wait_until_seen(&revoked)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = admin
        .get_user(get(editor.id))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(
        shown.roles.is_empty(),
        "revoked roles disappear: {:?}",
        shown.roles
    );
    assert_refused(
        &expect_err(as_editor.update_user(rename(target.id, "After")).await),
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
}
