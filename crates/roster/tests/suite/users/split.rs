use roster::Service;
use roster_kit::{auth::BearerToken, testing::Backend};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use tonic::{Code, transport::Channel};

use crate::helpers::{Apart, TestApp, assert_refused, create, expect_err};
use crate::on_both_backends;

on_both_backends!(services_apart_from_users_refuse_revoked_sessions);

async fn services_apart_from_users_refuse_revoked_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let apart = Apart::spawn(&app, &[Service::Roles, Service::Files]).await;
    let mut admin = app.admin().await;
    let issued = admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "jane".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let channel = Channel::from_shared(apart.address.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut roles = RoleServiceClient::with_interceptor(
        channel,
        BearerToken::new(&issued.access_token).unwrap_or_else(|e| panic!("{e}")),
    );
    roles
        .list_permissions(pb::ListPermissionsRequest {})
        .await
        .unwrap_or_else(|s| panic!("a valid session works apart from users: {s:?}"));

    admin
        .revoke_user_tokens(pb::RevokeUserTokensRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Name("jane".into())),
            }),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = expect_err(roles.list_permissions(pb::ListPermissionsRequest {}).await);
    assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");

    // Only Roster's own services may ask.
    let john = create(&mut admin, "john", "John").await;
    let mut as_john = app.as_user(&john).await;
    let status = expect_err(
        as_john
            .check_session(pb::CheckSessionRequest {
                user_id: john.id,
                generation: 0,
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
}
