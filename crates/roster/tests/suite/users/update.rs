use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, create, expect_err, png, upload, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    masked_fields_change_and_the_version_moves,
    properties_merge_and_stay_bounded,
    avatars_are_a_file_or_an_external_picture,
    bad_patches_are_refused_and_change_nothing,
    a_stale_version_is_aborted,
    concurrent_updates_with_one_version_have_one_winner,
);

fn by_id(id: i64) -> Option<pb::UserRef> {
    Some(pb::UserRef {
        r#ref: Some(pb::user_ref::Ref::Id(id)),
    })
}

fn update(
    id: i64,
    paths: &[&str],
    patch: pb::UserPatch,
    expected_version: i64,
) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        user: by_id(id),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        patch: Some(patch),
        expected_version,
    }
}

fn props(value: serde_json::Value) -> Option<prost_types::Struct> {
    Some(roster_users::grpc::struct_from_json(
        value.as_object().unwrap_or_else(|| unreachable!()),
    ))
}

async fn masked_fields_change_and_the_version_moves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let patch = pb::UserPatch {
        display_name: "Jane Doe".into(),
        description: "ignored: not in the mask".into(),
        r#type: pb::UserType::Bot.into(),
        ..Default::default()
    };
    let updated = admin
        .update_user(update(
            jane.id,
            &["display_name", "type"],
            patch,
            jane.version,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(updated.display_name, "Jane Doe");
    assert_eq!(updated.r#type(), pb::UserType::Bot);
    assert_eq!(updated.description, "");
    assert_eq!(updated.version, jane.version + 1);
    assert_eq!(updated.name, "jane", "the name is immutable");
    let seconds = |u: &pb::User| u.updated_at.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(seconds(&updated) >= seconds(&jane));
}

async fn properties_merge_and_stay_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let first = admin
        .update_user(update(
            jane.id,
            &["properties"],
            pb::UserPatch {
                properties: props(json!({"a": 1, "b": "x"})),
                ..Default::default()
            },
            0,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(first.properties, props(json!({"a": 1, "b": "x"})));
    let merged = admin
        .update_user(update(
            jane.id,
            &["properties"],
            pb::UserPatch {
                properties: props(json!({"b": null, "c": [true]})),
                ..Default::default()
            },
            0,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(merged.properties, props(json!({"a": 1, "c": [true]})));

    let status = expect_err(
        admin
            .update_user(update(
                jane.id,
                &["properties"],
                pb::UserPatch {
                    properties: props(json!({"big": "x".repeat(17_000)})),
                    ..Default::default()
                },
                0,
            ))
            .await,
    );
    assert_eq!(violated_fields(&status), ["patch.properties"]);
}

async fn avatars_are_a_file_or_an_external_picture(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let external = pb::Avatar {
        source: Some(pb::avatar::Source::External(pb::ExternalPicture {
            url: "https://example.com/files/jane.png".into(),
            name: "jane.png".into(),
            content_type: "image/png".into(),
            size: 123_115,
        })),
    };
    let with_url = admin
        .update_user(update(
            jane.id,
            &["avatar"],
            pb::UserPatch {
                avatar: Some(external.clone()),
                ..Default::default()
            },
            0,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(with_url.avatar, Some(external));
    assert_eq!(
        with_url.display_picture_url,
        "https://example.com/files/jane.png"
    );

    // An uploaded avatar image of jane's own.
    let uploaded = upload(&app, &jane, pb::FilePurpose::Avatar, &png(300, 200)).await;
    let file = pb::Avatar {
        source: Some(pb::avatar::Source::FileId(uploaded.id.clone())),
    };
    let with_file = admin
        .update_user(update(
            jane.id,
            &["avatar"],
            pb::UserPatch {
                avatar: Some(file.clone()),
                ..Default::default()
            },
            0,
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(with_file.avatar, Some(file));
    assert_eq!(
        with_file.display_picture_url,
        format!("http://localhost:8080/v1/files/{}", uploaded.id)
    );
    let info = admin
        .get_user_avatar(pb::GetUserAvatarRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(jane.id)),
            }),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    match info.source {
        Some(pb::user_avatar::Source::File(file)) => {
            assert_eq!(
                (file.id, file.owner_user_id),
                (uploaded.id.clone(), jane.id)
            );
            assert_eq!((file.width, file.height), (300, 200));
            assert_eq!(file.variants.len(), 2, "64 px and 256 px variants");
        }
        other => panic!("expected the file's metadata, got {other:?}"),
    }

    // Not an avatar file of jane's: someone else's avatar, jane's attachment, nothing.
    let john = create(&mut admin, "john", "John").await;
    let johns = upload(&app, &john, pb::FilePurpose::Avatar, &png(64, 64)).await;
    let attachment = upload(&app, &jane, pb::FilePurpose::Attachment, b"just some text").await;
    for file_id in [johns.id, attachment.id, "no-such-file".to_owned()] {
        let status = expect_err(
            admin
                .update_user(update(
                    jane.id,
                    &["avatar"],
                    pb::UserPatch {
                        avatar: Some(pb::Avatar {
                            source: Some(pb::avatar::Source::FileId(file_id)),
                        }),
                        ..Default::default()
                    },
                    0,
                ))
                .await,
        );
        assert_refused(&status, Code::InvalidArgument, "AVATAR_FILE_INVALID");
        assert_eq!(violated_fields(&status), ["patch.avatar.file_id"]);
    }

    let cleared = admin
        .update_user(update(jane.id, &["avatar"], pb::UserPatch::default(), 0))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        (cleared.avatar, cleared.display_picture_url.as_str()),
        (None, "")
    );

    let bad = pb::Avatar {
        source: Some(pb::avatar::Source::External(pb::ExternalPicture {
            url: "javascript:alert(1)".into(),
            size: -5,
            ..Default::default()
        })),
    };
    let status = expect_err(
        admin
            .update_user(update(
                jane.id,
                &["avatar"],
                pb::UserPatch {
                    avatar: Some(bad),
                    ..Default::default()
                },
                0,
            ))
            .await,
    );
    assert_eq!(
        violated_fields(&status),
        ["patch.avatar.external.url", "patch.avatar.external.size"]
    );
}

async fn bad_patches_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let cases = vec![
        (
            update(jane.id, &[], pb::UserPatch::default(), 0),
            vec!["update_mask"],
        ),
        (
            update(jane.id, &["name"], pb::UserPatch::default(), 0),
            vec!["update_mask"],
        ),
        (
            update(jane.id, &["display_name"], pb::UserPatch::default(), 0),
            vec!["patch.display_name"],
        ),
        (
            update(
                jane.id,
                &["display_name"],
                pb::UserPatch {
                    display_name: "x".repeat(101),
                    ..Default::default()
                },
                0,
            ),
            vec!["patch.display_name"],
        ),
        (
            update(
                jane.id,
                &["description"],
                pb::UserPatch {
                    description: "x".repeat(1001),
                    ..Default::default()
                },
                0,
            ),
            vec!["patch.description"],
        ),
        (
            update(jane.id, &["type"], pb::UserPatch::default(), 0),
            vec!["patch.type"],
        ),
        (
            update(
                jane.id,
                &["display_name"],
                pb::UserPatch {
                    display_name: "ok".into(),
                    ..Default::default()
                },
                -1,
            ),
            vec!["expected_version"],
        ),
    ];
    for (request, fields) in cases {
        let status = expect_err(admin.update_user(request).await);
        assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), fields);
    }
    let status = expect_err(
        admin
            .update_user(update(
                424_242,
                &["description"],
                pb::UserPatch::default(),
                0,
            ))
            .await,
    );
    assert_refused(&status, Code::NotFound, "USER_NOT_FOUND");

    let unchanged = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(jane.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(unchanged, jane);
}

async fn a_stale_version_is_aborted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let rename = |name: &str, version: i64| {
        update(
            jane.id,
            &["display_name"],
            pb::UserPatch {
                display_name: name.into(),
                ..Default::default()
            },
            version,
        )
    };
    admin
        .update_user(rename("First", jane.version))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = expect_err(admin.update_user(rename("Second", jane.version)).await);
    assert_refused(&status, Code::Aborted, "VERSION_CONFLICT");
    let current = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(jane.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(current.display_name, "First");
}

async fn concurrent_updates_with_one_version_have_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let attempts = 8;
    let mut tasks = Vec::new();
    for n in 0..attempts {
        let mut client = admin.clone();
        let request = update(
            jane.id,
            &["display_name"],
            pb::UserPatch {
                display_name: format!("Writer {n}"),
                ..Default::default()
            },
            jane.version,
        );
        tasks.push(tokio::spawn(
            async move { client.update_user(request).await },
        ));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap_or_else(|e| panic!("{e}")) {
            Ok(response) => winners.push(response.into_inner()),
            Err(status) => assert_refused(&status, Code::Aborted, "VERSION_CONFLICT"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent writer wins");
    let current = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(jane.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(current.display_name, winners[0].display_name);
    assert_eq!(current.version, jane.version + 1);
}
