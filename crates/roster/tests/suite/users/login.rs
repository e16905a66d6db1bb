//! Native logins: secure by default, name-only only in development mode and
//! never for users who hold a role.

use chrono::Utc;
use roster_kit::{auth::BearerToken, config::Secret, testing::Backend};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use roster_users::domain::login::LoginCredential;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    login_creates_the_user_then_logs_in,
    login_tokens_authenticate_as_the_user,
    native_logins_require_a_valid_credential_and_ignore_display_name,
    the_default_mode_refuses_a_name_only_login,
    dev_logins_refuse_name_only_logins_of_users_holding_a_grant,
    guests_log_in_without_credentials_unless_disabled,
);

pub const SECRET: &str = "backend-secret";

pub fn login(name: &str, display_name: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        name: name.into(),
        display_name: display_name.into(),
        ..Default::default()
    }
}

/// A native Login of `name` with a credential made as a backend makes it.
pub fn with_credential(secret: &str, name: &str, expires_at: i64) -> pb::LoginRequest {
    pb::LoginRequest {
        name: name.into(),
        auth_token: LoginCredential::sign(secret, name, expires_at),
        auth_expires_at: expires_at,
        ..Default::default()
    }
}

/// Unix seconds `seconds` from now.
pub fn in_seconds(seconds: i64) -> i64 {
    Utc::now().timestamp() + seconds
}

/// A suite whose users service takes credentials made with [`SECRET`].
pub async fn secured(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.login_secret = Some(Secret::new(SECRET));
    })
    .await
}

async fn dev_mode(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| settings.dev_logins = true).await
}

async fn login_creates_the_user_then_logs_in(backend: Backend) {
    let app = dev_mode(backend).await;
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
    assert!(first.guest_secret.is_empty(), "only guests get a secret");

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
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;
    let session = anonymous
        .login(with_credential(SECRET, "jane", in_seconds(60)))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut diagnostics =
        roster_proto::v1::diagnostics_service_client::DiagnosticsServiceClient::with_interceptor(
            app.channel().await,
            BearerToken::new(&session.access_token).unwrap_or_else(|e| panic!("{e}")),
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

async fn native_logins_require_a_valid_credential_and_ignore_display_name(backend: Backend) {
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;

    let status = expect_err(anonymous.login(login("jane", "")).await);
    assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    let status = expect_err(
        anonymous
            .login(pb::LoginRequest {
                name: "jane".into(),
                ..with_credential(SECRET, "john", in_seconds(60))
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    let status = expect_err(
        anonymous
            .login(with_credential("another-secret", "jane", in_seconds(60)))
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    // Refused logins create nobody.
    let status = expect_err(
        app.admin()
            .await
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name("jane".into())),
            })
            .await,
    );
    assert_refused(&status, Code::NotFound, "USER_NOT_FOUND");

    let session = anonymous
        .login(pb::LoginRequest {
            display_name: "Chosen By Client".into(),
            ..with_credential(SECRET, "jane", in_seconds(60))
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(session.created);
    assert_eq!(session.user.unwrap_or_default().display_name, "jane");
}

/// The issue's reproduction: production settings (no development logins), a
/// global admin, and a Login that names it without any credential.
async fn the_default_mode_refuses_a_name_only_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let root = crate::helpers::create(&mut admin, "root", "Root").await;
    let roles_db = sea_orm::Database::connect(&app.database_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    roster_roles::bootstrap_global_admin(&roles_db, root.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut anonymous = app.anonymous().await;

    for name in ["root", "newcomer"] {
        let status = expect_err(anonymous.login(login(name, "")).await);
        assert_refused(&status, Code::FailedPrecondition, "LOGIN_NOT_CONFIGURED");
        assert!(
            status.message().contains("users.login_secret")
                && status.message().contains("IssueUserToken"),
            "the refusal tells operators what to do: {status:?}"
        );
    }
    // Even a well-formed credential: there is no secret to check it with.
    let status = expect_err(
        anonymous
            .login(with_credential(SECRET, "root", in_seconds(60)))
            .await,
    );
    assert_refused(&status, Code::FailedPrecondition, "LOGIN_NOT_CONFIGURED");
    let status = expect_err(
        admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name("newcomer".into())),
            })
            .await,
    );
    assert_refused(&status, Code::NotFound, "USER_NOT_FOUND");

    // Sessions still come from the backend.
    admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "newcomer".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
}

async fn dev_logins_refuse_name_only_logins_of_users_holding_a_grant(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.dev_logins = true;
        settings.login_secret = Some(Secret::new(SECRET));
    })
    .await;
    let mut admin = app.admin().await;
    let mut roles = RoleServiceClient::with_interceptor(
        app.channel().await,
        BearerToken::new(&app.admin_token()).unwrap_or_else(|e| panic!("{e}")),
    );
    let moderator = crate::helpers::create(&mut admin, "moderator", "Mod").await;
    roles
        .grant_role(pb::GrantRoleRequest {
            user_id: moderator.id,
            role: "channel-moderator".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::ChannelId("general".into())),
            }),
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let mut anonymous = app.anonymous().await;
    let member = anonymous
        .login(login("member", ""))
        .await
        .unwrap_or_else(|s| panic!("a user without a role logs in by name: {s:?}"))
        .into_inner()
        .user
        .unwrap_or_default();

    let status = expect_err(anonymous.login(login("moderator", "Renamed")).await);
    assert_refused(&status, Code::PermissionDenied, "LOGIN_CREDENTIAL_REQUIRED");
    let unchanged = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(moderator.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        unchanged.display_name, "Mod",
        "a refused login changes nothing"
    );

    // A grant may name a user id before the user exists (as `roster
    // grant-global-admin 1` on a fresh deployment): the user a name-only login
    // creates with that id is refused all the same.
    roles
        .grant_role(pb::GrantRoleRequest {
            user_id: member.id + 1,
            role: "super-moderator".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::Network(pb::NetworkScope {})),
            }),
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = expect_err(anonymous.login(login("newcomer", "")).await);
    assert_refused(&status, Code::PermissionDenied, "LOGIN_CREDENTIAL_REQUIRED");

    // With a credential, holders of roles log in as anyone else.
    let session = anonymous
        .login(with_credential(SECRET, "moderator", in_seconds(60)))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(session.user.unwrap_or_default().id, moderator.id);
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

    crate::helpers::create(&mut app.admin().await, "native", "Native").await;
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
