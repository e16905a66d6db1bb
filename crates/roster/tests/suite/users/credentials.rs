//! Login credentials: bound to a name and an expiry, refused once expired or
//! when they would live too long.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use super::login::{SECRET, in_seconds, secured, with_credential};
use crate::helpers::{assert_refused, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    credentials_work_for_their_name_until_they_expire,
    malformed_credentials_are_invalid_input,
);

async fn credentials_work_for_their_name_until_they_expire(backend: Backend) {
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;

    let credential = with_credential(SECRET, "jane", in_seconds(300));
    let valid = anonymous
        .login(credential.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(valid.user.unwrap_or_default().name, "jane");
    // Reusable until it expires (its lifetime bounds a replay); an expired one,
    // replayed or fresh, is refused. The expiry boundary itself is unit-tested
    // with an injected clock (`LoginCredential`), so no test waits for it here.
    anonymous
        .login(credential)
        .await
        .unwrap_or_else(|s| panic!("valid until it expires, however often: {s:?}"));

    let expired = expect_err(
        anonymous
            .login(with_credential(SECRET, "jane", in_seconds(-10)))
            .await,
    );
    assert_refused(&expired, Code::Unauthenticated, "AUTH_TOKEN_EXPIRED");

    // The default maximum lifetime is 600 s.
    let too_far = expect_err(
        anonymous
            .login(with_credential(SECRET, "jane", in_seconds(3600)))
            .await,
    );
    assert_refused(&too_far, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    assert!(too_far.message().contains("600"), "{too_far:?}");

    let wrong_name = expect_err(
        anonymous
            .login(pb::LoginRequest {
                name: "john".into(),
                ..with_credential(SECRET, "jane", in_seconds(300))
            })
            .await,
    );
    assert_refused(&wrong_name, Code::Unauthenticated, "AUTH_TOKEN_INVALID");

    // The expiry is part of what is signed: moving it breaks the credential.
    let stretched = expect_err(
        anonymous
            .login(pb::LoginRequest {
                auth_expires_at: in_seconds(500),
                ..with_credential(SECRET, "jane", in_seconds(100))
            })
            .await,
    );
    assert_refused(&stretched, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
}

async fn malformed_credentials_are_invalid_input(backend: Backend) {
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;
    let cases = [
        (
            pb::LoginRequest {
                name: "jane".into(),
                auth_token: "not-hex".into(),
                auth_expires_at: in_seconds(60),
                ..Default::default()
            },
            "auth_token",
        ),
        (
            pb::LoginRequest {
                auth_expires_at: 0,
                ..with_credential(SECRET, "jane", in_seconds(60))
            },
            "auth_expires_at",
        ),
        (
            pb::LoginRequest {
                name: "jane".into(),
                auth_expires_at: in_seconds(60),
                ..Default::default()
            },
            "auth_token",
        ),
    ];
    for (request, field) in cases {
        let status = expect_err(anonymous.login(request).await);
        assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), [field]);
    }
}
