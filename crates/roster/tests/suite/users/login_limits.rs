//! Failed logins are limited per name and per client address; successes do
//! not count.

use std::time::Duration;

use roster_kit::{config::Secret, testing::Backend};
use roster_proto::v1 as pb;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::login::{SECRET, in_seconds, secured, with_credential};
use crate::helpers::{TestApp, assert_refused, expect_err};
use crate::on_both_backends;

on_both_backends!(
    failed_logins_of_a_name_are_limited_with_a_retry_hint,
    failed_logins_from_an_address_are_limited_across_names,
);

/// A credential for `name` made with the wrong secret.
fn forged(name: &str) -> pb::LoginRequest {
    with_credential("guessed-secret", name, in_seconds(60))
}

fn retry_delay(status: &Status) -> Option<Duration> {
    status.get_error_details().retry_info()?.retry_delay
}

async fn failed_logins_of_a_name_are_limited_with_a_retry_hint(backend: Backend) {
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;

    // Successes do not count: more of them than the limit of failures.
    for _ in 0..7 {
        anonymous
            .login(with_credential(SECRET, "jane", in_seconds(60)))
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
    }
    // The default limit: 5 failures per name within 5 minutes.
    for _ in 0..5 {
        let status = expect_err(anonymous.login(forged("jane")).await);
        assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    }
    let limited = expect_err(anonymous.login(forged("jane")).await);
    assert_refused(&limited, Code::ResourceExhausted, "LOGIN_RATE_LIMITED");
    let delay = retry_delay(&limited).unwrap_or_default();
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(300),
        "retry hint {delay:?} in {limited:?}"
    );
    // While limited, even the right credential waits.
    let status = expect_err(
        anonymous
            .login(with_credential(SECRET, "jane", in_seconds(60)))
            .await,
    );
    assert_refused(&status, Code::ResourceExhausted, "LOGIN_RATE_LIMITED");
    // Other names are not affected.
    anonymous
        .login(with_credential(SECRET, "john", in_seconds(60)))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
}

async fn failed_logins_from_an_address_are_limited_across_names(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.login_secret = Some(Secret::new(SECRET));
        settings.login_limits.failures_per_name = 0;
        settings.login_limits.failures_per_address = 3;
    })
    .await;
    let mut anonymous = app.anonymous().await;
    for name in ["a", "b", "c"] {
        let status = expect_err(anonymous.login(forged(name)).await);
        assert_refused(&status, Code::Unauthenticated, "AUTH_TOKEN_INVALID");
    }
    let limited = expect_err(
        anonymous
            .login(with_credential(SECRET, "d", in_seconds(60)))
            .await,
    );
    assert_refused(&limited, Code::ResourceExhausted, "LOGIN_RATE_LIMITED");
    assert!(retry_delay(&limited).is_some(), "{limited:?}");
    assert!(limited.message().contains("127.0.0.1"), "{limited:?}");
}
