use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    created_users_read_back_by_id_and_name,
    duplicate_names_are_already_exists,
    invalid_fields_are_named_and_nothing_is_created,
);

async fn created_users_read_back_by_id_and_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let properties = serde_json::json!({"team": "blue", "score": 3, "tags": ["a", "b"]});
    let created = admin
        .create_user(pb::CreateUserRequest {
            name: "jane@example.com".into(),
            r#type: pb::UserType::Bot.into(),
            description: "Reads everything".into(),
            properties: Some(roster_users::grpc::struct_from_json(
                properties.as_object().unwrap_or_else(|| unreachable!()),
            )),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(created.id > 0);
    assert_eq!(
        created.display_name, "jane@example.com",
        "display name defaults to the name"
    );
    assert_eq!(created.r#type(), pb::UserType::Bot);
    assert_eq!(created.version, 1);
    assert_eq!(
        created.presence.as_ref().map(|p| p.status.as_str()),
        Some("UNAVAILABLE")
    );
    assert!(!created.is_deleted && !created.is_guest && !created.is_global_banned);

    let by_id = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(created.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let by_name = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Name("jane@example.com".into())),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(by_id, created);
    assert_eq!(by_name, created);
    assert_eq!(by_id.properties, created.properties);

    let missing = expect_err(
        admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(created.id + 1000)),
            })
            .await,
    );
    assert_refused(&missing, Code::NotFound, "USER_NOT_FOUND");
}

async fn duplicate_names_are_already_exists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    create(&mut admin, "jane", "Jane").await;
    let status = expect_err(
        admin
            .create_user(pb::CreateUserRequest {
                name: "jane".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::AlreadyExists, "USER_ALREADY_EXISTS");
}

async fn invalid_fields_are_named_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let cases: Vec<(pb::CreateUserRequest, Vec<&str>)> = vec![
        (
            pb::CreateUserRequest {
                name: "".into(),
                ..Default::default()
            },
            vec!["name"],
        ),
        (
            pb::CreateUserRequest {
                name: "n".repeat(51),
                ..Default::default()
            },
            vec!["name"],
        ),
        (
            pb::CreateUserRequest {
                name: " padded".into(),
                ..Default::default()
            },
            vec!["name"],
        ),
        (
            pb::CreateUserRequest {
                name: "ok".into(),
                display_name: "d".repeat(101),
                ..Default::default()
            },
            vec!["display_name"],
        ),
        (
            pb::CreateUserRequest {
                name: "ok".into(),
                description: "d".repeat(1001),
                ..Default::default()
            },
            vec!["description"],
        ),
        (
            pb::CreateUserRequest {
                name: "ok".into(),
                r#type: 9,
                ..Default::default()
            },
            vec!["type"],
        ),
        (
            pb::CreateUserRequest {
                name: "n".repeat(51),
                display_name: "d".repeat(101),
                ..Default::default()
            },
            vec!["name", "display_name"],
        ),
    ];
    for (request, fields) in cases {
        let status = expect_err(admin.create_user(request).await);
        assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), fields);
        for field in &fields {
            assert!(
                status.message().contains(field),
                "message names {field}: {}",
                status.message()
            );
        }
    }
    let oversized = serde_json::json!({"blob": "x".repeat(17 * 1024)});
    let status = expect_err(
        admin
            .create_user(pb::CreateUserRequest {
                name: "big".into(),
                properties: Some(roster_users::grpc::struct_from_json(
                    oversized.as_object().unwrap_or_else(|| unreachable!()),
                )),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["properties"]);

    let all = admin
        .query_users(pb::QueryUsersRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(
        all.users.is_empty(),
        "refused requests created {:?}",
        all.users
    );
}
