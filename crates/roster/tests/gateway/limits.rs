//! Rate limits, CORS, body limits and request ids.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::json;

use crate::helpers::Gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_limited_with_headers_and_429_unless_exempt() {
    let app = Gateway::spawn_with(Backend::Sqlite, |settings| {
        // One request a minute after a burst of three: nothing replenishes
        // during the test.
        settings.gateway.rate_limit.requests_per_minute = 1;
        settings.gateway.rate_limit.burst = 3;
    })
    .await;
    let (_, token) = app.user("jane").await;
    for remaining in ["2", "1", "0"] {
        let answer = app.get("/v1/users/me", Some(&token)).await;
        answer.ok();
        assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(answer.header("x-ratelimit-remaining"), Some(remaining));
        let reset: u64 = answer
            .header("x-ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!((1..=180).contains(&reset), "reset {reset}");
    }
    let refused = app.get("/v1/users/me", Some(&token)).await;
    refused.refused("RATE_LIMITED");
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // A refused call changes nothing.
    let rename = app
        .json(
            Method::PATCH,
            "/v1/users/me",
            Some(&token),
            json!({"displayName": "Limited"}),
        )
        .await;
    rename.refused("RATE_LIMITED");
    let admin = app.admin_token();
    assert_eq!(
        app.get("/v1/users/me", Some(&token)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.get("/v1/users/by-name/jane", Some(&admin)).await.body["displayName"],
        "jane"
    );

    // Each caller has its own allowance; admins have none to lose.
    let (_, bob) = app.user("bob").await;
    assert_eq!(
        app.get("/v1/users/me", Some(&bob))
            .await
            .header("x-ratelimit-remaining"),
        Some("2")
    );
    for _ in 0..10 {
        let answer = app.get("/v1/users/by-name/jane", Some(&admin)).await;
        answer.ok();
        assert!(answer.header("x-ratelimit-limit").is_none());
    }

    // Holders of EXEMPT_FROM_RATE_LIMITS are exempt.
    let (exempt_id, exempt) = app.user("exempt").await;
    app.json(
        Method::POST,
        "/v1/roles",
        Some(&admin),
        json!({"name": "unlimited", "permissions": ["EXEMPT_FROM_RATE_LIMITS"]}),
    )
    .await
    .ok();
    app.json(
        Method::POST,
        &format!("/v1/users/{exempt_id}/roles"),
        Some(&admin),
        json!({"role": "unlimited", "scope": {"network": {}}}),
    )
    .await
    .ok();
    for _ in 0..6 {
        let answer = app.get("/v1/users/me", Some(&exempt)).await;
        answer.ok();
        assert!(answer.header("x-ratelimit-remaining").is_none());
    }
    // Without a token the client's address is the caller.
    for _ in 0..3 {
        app.get("/.well-known/jwks.json", None).await;
    }
    app.get("/.well-known/jwks.json", None)
        .await
        .refused("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_only() {
    let app = Gateway::spawn_with(Backend::Sqlite, |settings| {
        settings.gateway.cors_allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let preflight = app
        .send(
            app.request(Method::OPTIONS, "/v1/users/me", None)
                .header("origin", "https://app.example")
                .header("access-control-request-method", "PATCH")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, if-match",
                ),
        )
        .await;
    assert!(preflight.status.is_success(), "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_owned();
    assert!(methods.contains("PATCH"), "{methods}");
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_lowercase();
    for header in ["authorization", "content-type", "if-match"] {
        assert!(headers.contains(header), "{headers}");
    }

    let stranger = app
        .send(
            app.request(Method::OPTIONS, "/v1/users/me", None)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "PATCH"),
        )
        .await;
    assert!(
        stranger.header("access-control-allow-origin").is_none(),
        "{stranger:?}"
    );

    // An actual answer (an error too) is readable by the page, headers included.
    let (_, token) = app.user("jane").await;
    let answer = app
        .send(
            app.request(Method::GET, "/v1/users/me", Some(&token))
                .header("origin", "https://app.example"),
        )
        .await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let exposed = answer
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-ratelimit-remaining"),
        "{exposed}"
    );
    let refused = app
        .send(
            app.request(Method::GET, "/v1/users/me", None)
                .header("origin", "https://app.example"),
        )
        .await;
    refused.refused("TOKEN_MISSING");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_limited_and_request_ids_pass_through() {
    let app = Gateway::spawn_with(Backend::Sqlite, |settings| {
        settings.gateway.max_body_bytes = 1024;
    })
    .await;
    let admin = app.admin_token();
    let big = json!({"name": "jane", "properties": {"blob": "x".repeat(4096)}});
    app.json(Method::POST, "/v1/users", Some(&admin), big)
        .await
        .refused("BODY_TOO_LARGE");
    app.get("/v1/users/by-name/jane", Some(&admin))
        .await
        .refused("USER_NOT_FOUND");

    // A request id given is kept (and reaches the services); one is made otherwise.
    let given = app
        .send(
            app.request(Method::GET, "/v1/users/by-name/nobody", Some(&admin))
                .header("x-request-id", "req-1234"),
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("req-1234"));
    let made = app.get("/v1/users", Some(&admin)).await;
    assert!(
        made.header("x-request-id").is_some_and(|id| id.len() >= 32),
        "{made:?}"
    );
}
