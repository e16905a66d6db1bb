use roster_kit::{config::Secret, testing::Backend};
use roster_proto::v1 as pb;
use roster_users::domain::login::login_auth_token;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    login_creates_the_user_then_logs_in,
    login_tokens_authenticate_as_the_user,
    secured_mode_requires_a_valid_auth_token_and_ignores_display_name,
    guests_log_in_without_credentials_unless_disabled,
);

fn login(name: &str, display_name: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        name: name.into(),
        display_name: display_name.into(),
        ..Default::default()
    }
}

async fn login_creates_the_user_then_logs_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = app.anonymous().await;

    let first = anonymous
        .login(login("jane", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let user = first.user.unwrap_or_default();
    assert!(first.created);
    assert_eq!(
        user.display_name, "jane",
        "display name defaults to the name"
    );
    assert!(!first.access_token.is_empty());

    let again = anonymous
        .login(login("jane", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(!again.created);
    let same = again.user.unwrap_or_default();
    assert_eq!(
        (same.id, same.version, same.display_name.as_str()),
        (user.id, user.version, "jane")
    );

    let renamed = anonymous
        .login(login("jane", "Jane Doe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let renamed = renamed.user.unwrap_or_default();
    assert_eq!(renamed.id, user.id);
    assert_eq!(renamed.display_name, "Jane Doe");
    assert_eq!(renamed.version, user.version + 1);

    let status = expect_err(anonymous.login(login("", "")).await);
    assert_eq!(violated_fields(&status), ["name"]);
    let status = expect_err(anonymous.login(login("jane", &"x".repeat(101))).await);
    assert_eq!(violated_fields(&status), ["display_name"]);
}

async fn login_tokens_authenticate_as_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = app.anonymous().await;
    let session = anonymous
        .login(login("jane", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut diagnostics =
        roster_proto::v1::diagnostics_service_client::DiagnosticsServiceClient::with_interceptor(
            app.channel().await,
            roster_kit::auth::BearerToken::new(&session.access_token)
                .unwrap_or_else(|e| panic!("{e}")),
        );
    let pong = diagnostics
        .ping(pb::PingRequest {})
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        pong.actor,
        format!("user:{}", session.user.unwrap_or_default().id)
    );
}

async fn secured_mode_requires_a_valid_auth_token_and_ignores_display_name(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.secured_mode = true;
        settings.login_secret = Some(Secret::new("backend-secret"));
    })
    .await;
    let mut anonymous = app.anonymous().await;

    let status = expect_err(anonymous.login(login("jane", "")).await);
    assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    let status = expect_err(
        anonymous
            .login(pb::LoginRequest {
                name: "jane".into(),
                auth_token: login_auth_token("backend-secret", "john"),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");

    let session = anonymous
        .login(pb::LoginRequest {
            name: "jane".into(),
            display_name: "Chosen By Client".into(),
            auth_token: login_auth_token("backend-secret", "jane"),
            guest: false,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(session.user.unwrap_or_default().display_name, "jane");
}

async fn guests_log_in_without_credentials_unless_disabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = app.anonymous().await;
    let guest = anonymous
        .login(pb::LoginRequest {
            guest: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .user
        .unwrap_or_default();
    assert!(guest.is_guest);
    assert!(guest.name.starts_with("guest-"));

    anonymous
        .login(login("native", ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = expect_err(
        anonymous
            .login(pb::LoginRequest {
                name: "native".into(),
                guest: true,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");

    let locked = TestApp::spawn_with(backend, |settings| settings.allow_guests = false).await;
    let mut anonymous = locked.anonymous().await;
    let status = expect_err(
        anonymous
            .login(pb::LoginRequest {
                guest: true,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "GUESTS_DISABLED");
}
