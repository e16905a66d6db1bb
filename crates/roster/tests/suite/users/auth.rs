use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, create, expect_err};
use crate::on_both_backends;

on_both_backends!(
    calls_without_a_valid_token_are_unauthenticated,
    users_may_not_do_admin_work,
    a_user_may_not_change_another_user,
);

async fn calls_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = app.anonymous().await;
    let status = expect_err(
        anonymous
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(1)),
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "TOKEN_MISSING");

    let mut forged = app.client("not-a-jwt").await;
    let status = expect_err(
        forged
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(1)),
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "TOKEN_INVALID");

    let other_keys = roster_kit::TokenKeys::generate("roster");
    let foreign = other_keys
        .issue_admin("intruder", std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut intruder = app.client(&foreign.token).await;
    let status = expect_err(
        intruder
            .create_user(pb::CreateUserRequest {
                name: "x".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "TOKEN_INVALID");

    // Health stays open to probes.
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel().await);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "roster.v1.UserService".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

async fn users_may_not_do_admin_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let mut as_jane = app.as_user(&jane).await;

    let status = expect_err(
        as_jane
            .create_user(pb::CreateUserRequest {
                name: "x".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = expect_err(
        as_jane
            .issue_user_token(pb::IssueUserTokenRequest {
                name: "x".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = expect_err(
        as_jane
            .revoke_user_tokens(pb::RevokeUserTokensRequest {
                user: Some(pb::UserRef {
                    r#ref: Some(pb::user_ref::Ref::Id(jane.id)),
                }),
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = match as_jane
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
    {
        Ok(_) => panic!("a user may not watch all user events"),
        Err(status) => status,
    };
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");

    // Reading is allowed.
    let read = as_jane
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(jane.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(read.id, jane.id);
}

async fn a_user_may_not_change_another_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let john = create(&mut admin, "john", "John").await;
    let mut as_jane = app.as_user(&jane).await;

    let rename = |id: i64| pb::UpdateUserRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["display_name".into()],
        }),
        patch: Some(pb::UserPatch {
            display_name: "Hacked".into(),
            ..Default::default()
        }),
        expected_version: 0,
    };
    let status = expect_err(as_jane.update_user(rename(john.id)).await);
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let status = expect_err(
        as_jane
            .set_presence(pb::SetPresenceRequest {
                user: Some(pb::UserRef {
                    r#ref: Some(pb::user_ref::Ref::Id(john.id)),
                }),
                online: Some(true),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");

    let unchanged = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(john.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(unchanged, john);

    let renamed = as_jane
        .update_user(rename(jane.id))
        .await
        .unwrap_or_else(|s| panic!("a user may change itself: {s:?}"))
        .into_inner();
    assert_eq!(renamed.display_name, "Hacked");
}
