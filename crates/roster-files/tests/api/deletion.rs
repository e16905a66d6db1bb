//! Deleting one file, and every file of a user (the cascade).

use crate::{
    CHUNK, content, header,
    helpers::{TestApp, png, reason, violations},
};
use roster_files::client::upload;
use roster_proto::v1::{DeleteFileRequest, DeleteUserFilesRequest, FilePurpose, GetFileRequest};
use tonic::Code;

crate::on_both_databases!(
    delete_file_removes_row_and_objects,
    delete_user_files_is_idempotent_and_privileged,
    user_cannot_delete_or_upload_for_another_user,
    editors_may_delete_files_of_users_not_exempt_from_moderation,
);

async fn delete_file_removes_row_and_objects(app: TestApp) {
    let mut client = app.user_client(7).await;
    let picture = png(300, 300);
    let avatar = upload(
        &mut client,
        header("me.png", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let bytes = content(1000);
    let attachment = upload(
        &mut client,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (2, 4));

    client
        .delete_file(DeleteFileRequest {
            file_id: avatar.id.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
    let status = client
        .get_file(GetFileRequest {
            file_id: avatar.id.clone(),
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(status.as_ref().map(|s| s.code()), Some(Code::NotFound));
    let status = client
        .delete_file(DeleteFileRequest { file_id: avatar.id })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("FILE_NOT_FOUND")
    );

    // An admin may delete anyone's file.
    app.admin_client()
        .await
        .delete_file(DeleteFileRequest {
            file_id: attachment.id,
        })
        .await
        .unwrap_or_else(|s| panic!("admin delete: {s:?}"));
    app.assert_nothing_stored().await;
}

async fn delete_user_files_is_idempotent_and_privileged(app: TestApp) {
    let mut user = app.user_client(5).await;
    let bytes = content(500);
    let picture = png(100, 50);
    for n in 0..3 {
        upload(
            &mut user,
            header(&format!("f{n}"), "", bytes.len(), FilePurpose::Attachment),
            &bytes,
            CHUNK,
        )
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
    }
    upload(
        &mut user,
        header("me", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let mut other = app.user_client(6).await;
    upload(
        &mut other,
        header("kept", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));

    // Users may not run the cascade, not even on themselves.
    let status = user
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 5,
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::PermissionDenied)
    );

    let mut service = app.service_client("moderation").await;
    let first = service
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 5,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("cascade: {s:?}"))
        .into_inner();
    assert_eq!(first.deleted_count, 4);
    let again = service
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 5,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("cascade again: {s:?}"))
        .into_inner();
    assert_eq!(again.deleted_count, 0);
    let nobody = app
        .admin_client()
        .await
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 999,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("cascade for nobody: {s:?}"))
        .into_inner();
    assert_eq!(nobody.deleted_count, 0);
    // Only user 6's file is left.
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
}

async fn user_cannot_delete_or_upload_for_another_user(app: TestApp) {
    let mut owner = app.user_client(1).await;
    let mut intruder = app.user_client(2).await;
    let bytes = content(300);
    let file = upload(
        &mut owner,
        header("mine", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));

    let status = intruder
        .delete_file(DeleteFileRequest {
            file_id: file.id.clone(),
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::PermissionDenied, "PERMISSION_DENIED".into()))
    );
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));

    let mut head = header("yours", "", bytes.len(), FilePurpose::Attachment);
    head.owner_user_id = 1;
    let status = upload(&mut intruder, head, &bytes, CHUNK).await.err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::PermissionDenied)
    );

    // Admin uploads must name the owner.
    let status = upload(
        &mut app.admin_client().await,
        header("x", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::InvalidArgument)
    );
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));

    // The owner may delete it.
    owner
        .delete_file(DeleteFileRequest { file_id: file.id })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    app.assert_nothing_stored().await;
}

async fn editors_may_delete_files_of_users_not_exempt_from_moderation(app: TestApp) {
    use roster_proto::v1::{
        CreateRoleRequest, GrantRoleRequest, NetworkScope, Scope,
        role_service_client::RoleServiceClient, scope,
    };
    let admin_token = app
        .keys
        .issue_admin("tests", std::time::Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let mut roles = RoleServiceClient::with_interceptor(
        app.channel().await,
        roster_kit::auth::BearerToken::new(&admin_token).unwrap_or_else(|e| panic!("{e}")),
    );
    roles
        .create_role(CreateRoleRequest {
            name: "profile-editor".into(),
            description: String::new(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let network = || {
        Some(Scope {
            scope: Some(scope::Scope::Network(NetworkScope {})),
        })
    };
    for (user_id, role) in [(2, "profile-editor"), (3, "super-moderator")] {
        roles
            .grant_role(GrantRoleRequest {
                user_id,
                role: role.into(),
                scope: network(),
                expires_at: None,
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
    }

    let bytes = content(200);
    let plain = upload(
        &mut app.user_client(1).await,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("{s:?}"));
    let exempt = upload(
        &mut app.user_client(3).await,
        header("b", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("{s:?}"));
    let mut editor = app.user_client(2).await;
    let status = editor
        .delete_file(DeleteFileRequest {
            file_id: exempt.id.clone(),
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::PermissionDenied, "PERMISSION_DENIED".into())),
        "a super moderator's files are out of an editor's reach"
    );
    editor
        .delete_file(DeleteFileRequest { file_id: plain.id })
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER may delete another user's file: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
}

crate::on_both_databases!(a_dry_run_cascade_counts_and_deletes_nothing);

async fn a_dry_run_cascade_counts_and_deletes_nothing(app: TestApp) {
    let mut user = app.user_client(5).await;
    let bytes = content(500);
    let picture = png(40, 40);
    upload(
        &mut user,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    upload(
        &mut user,
        header("me", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    // 998 more rows of user 5 (and one of user 6), written straight into the
    // table: the cascade must handle a user with a thousand files.
    let rows: Vec<String> = (0..999)
        .map(|n| {
            let owner = if n == 0 { 6 } else { 5 };
            format!(
                "('{}', {owner}, 'attachment', 'private', 'bulk-{n}', 'text/plain', 1, 0, 0, '', '[]', '2026-12-01 00:00:00+00:00')",
                uuid::Uuid::new_v4()
            )
        })
        .collect();
    app.execute(&format!(
        "INSERT INTO files (id, owner_user_id, purpose, visibility, name, content_type, size, width, height, sha256, variants, created_at) VALUES {}",
        rows.join(", ")
    ))
    .await;
    assert_eq!((app.row_count().await, app.object_count().await), (1001, 4));

    // Users may not ask, not even about themselves.
    let dry_run = |user_id| DeleteUserFilesRequest {
        user_id,
        dry_run: true,
    };
    let status = user.delete_user_files(dry_run(5)).await.err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::PermissionDenied)
    );

    let mut service = app.service_client("moderation").await;
    for _ in 0..2 {
        let counted = service
            .delete_user_files(dry_run(5))
            .await
            .unwrap_or_else(|s| panic!("dry run: {s:?}"))
            .into_inner();
        assert_eq!(counted.deleted_count, 1000);
        assert_eq!((app.row_count().await, app.object_count().await), (1001, 4));
    }
    let status = service.delete_user_files(dry_run(0)).await.err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), violations(s))),
        Some((Code::InvalidArgument, vec!["user_id".to_owned()]))
    );

    // The real cascade deletes what the dry run counted, and only that.
    let deleted = service
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 5,
            dry_run: false,
        })
        .await
        .unwrap_or_else(|s| panic!("cascade: {s:?}"))
        .into_inner();
    assert_eq!(deleted.deleted_count, 1000);
    assert_eq!((app.row_count().await, app.object_count().await), (1, 0));
    let counted = service
        .delete_user_files(dry_run(5))
        .await
        .unwrap_or_else(|s| panic!("dry run: {s:?}"))
        .into_inner();
    assert_eq!(counted.deleted_count, 0);
}
