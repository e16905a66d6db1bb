//! Guests: created with a secret, resumed only with that secret or a session
//! of their own, never by name alone.

use roster_kit::{auth::BearerToken, testing::Backend};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(guests_resume_with_their_secret_or_their_session_only);

fn guest(name: &str, secret: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        name: name.into(),
        guest: true,
        guest_secret: secret.into(),
        ..Default::default()
    }
}

async fn guests_resume_with_their_secret_or_their_session_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = app.anonymous().await;

    let created = anonymous
        .login(guest("visitor", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let visitor = created.user.clone().unwrap_or_default();
    assert!(created.created && visitor.is_guest);
    assert_eq!(created.guest_secret.len(), 64, "{created:?}");

    // With its secret.
    let resumed = anonymous
        .login(guest("visitor", &created.guest_secret))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(!resumed.created);
    assert_eq!(resumed.user.unwrap_or_default().id, visitor.id);
    assert!(resumed.guest_secret.is_empty(), "the secret is shown once");

    // With a session of its own, sent as the call's bearer token.
    let mut as_visitor = UserServiceClient::with_interceptor(
        app.channel().await,
        BearerToken::new(&created.access_token).unwrap_or_else(|e| panic!("{e}")),
    );
    let by_session = as_visitor
        .login(guest("visitor", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(by_session.user.unwrap_or_default().id, visitor.id);

    // Never by name alone, nor with another guest's secret or session.
    let status = expect_err(anonymous.login(guest("visitor", "")).await);
    assert_refused(&status, Code::Unauthenticated, "GUEST_SECRET_INVALID");
    let other = anonymous
        .login(guest("other", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let status = expect_err(anonymous.login(guest("visitor", &other.guest_secret)).await);
    assert_refused(&status, Code::Unauthenticated, "GUEST_SECRET_INVALID");
    let mut as_other = UserServiceClient::with_interceptor(
        app.channel().await,
        BearerToken::new(&other.access_token).unwrap_or_else(|e| panic!("{e}")),
    );
    let status = expect_err(as_other.login(guest("visitor", "")).await);
    assert_refused(&status, Code::Unauthenticated, "GUEST_SECRET_INVALID");

    // A revoked session no longer resumes the guest.
    app.admin()
        .await
        .revoke_user_tokens(pb::RevokeUserTokensRequest {
            user: crate::helpers::by_id(visitor.id),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = expect_err(as_visitor.login(guest("visitor", "")).await);
    assert_refused(&status, Code::Unauthenticated, "GUEST_SECRET_INVALID");

    let status = expect_err(anonymous.login(guest("visitor", "zz")).await);
    assert_eq!(violated_fields(&status), ["guest_secret"]);
}
