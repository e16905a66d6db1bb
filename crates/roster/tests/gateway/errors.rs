//! The error mapping over HTTP: every reason the services document is answered
//! by some test of this binary with its status and code, or is accounted for.

use std::{collections::BTreeSet, io::Write};

use reqwest::{Method, StatusCode};
use roster::{RosterSettings, Service, Suite};
use roster_kit::{
    config::Secret,
    testing::{Backend, TestDatabase, local_listener},
};
use serde_json::json;

use crate::helpers::Gateway;

/// Every test module of this binary, scanned for the reasons it asserts.
const TESTS: &[&str] = &[
    include_str!("users.rs"),
    include_str!("sessions.rs"),
    include_str!("profile.rs"),
    include_str!("roles.rs"),
    include_str!("files.rs"),
    include_str!("events.rs"),
    include_str!("limits.rs"),
    include_str!("moderation.rs"),
    include_str!("errors.rs"),
];

const PROTOS: &[&str] = &[
    include_str!("../../../../proto/roster/v1/common.proto"),
    include_str!("../../../../proto/roster/v1/users.proto"),
    include_str!("../../../../proto/roster/v1/roles.proto"),
    include_str!("../../../../proto/roster/v1/files.proto"),
    include_str!("../../../../proto/roster/v1/moderation.proto"),
];

/// Reasons asserted on a raw answer rather than through `Answer::refused`.
const ASSERTED_RAW: &[(&str, &str)] = &[
    (
        "DEADLINE_EXCEEDED",
        "the_gateway_answers_its_own_refusals_in_the_same_body",
    ),
    (
        "UNAVAILABLE",
        "a_service_that_does_not_answer_is_unavailable",
    ),
];

/// Reasons no test here can produce over HTTP, and where they are checked instead.
const ACCOUNTED_FOR: &[(&str, &str)] = &[
    (
        "INTERNAL",
        "an unexpected failure; mapped in roster-gateway's reason walk",
    ),
    (
        "TOKEN_EXPIRED",
        "needs a token signed in the past; mapped in roster-gateway's reason walk",
    ),
    (
        "UPLOAD_SIZE_MISMATCH",
        "the gateway always declares the exact length it sends",
    ),
    (
        "UPLOAD_ABORTED",
        "the gateway ends an upload stream only when the client is gone",
    ),
    ("UNIMPLEMENTED", "every route's service runs in the suite"),
    (
        "SHUTTING_DOWN",
        "ends a service's event stream while it shuts down; the hub reconnects",
    ),
    (
        "CURSOR_EXPIRED",
        "needs the outbox pruned past a cursor; mapped in roster-gateway's reason walk",
    ),
    (
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        "needs a keyed call held running; the gRPC suite's ledger test holds one",
    ),
    (
        "IDEMPOTENT_ANSWER_LOST",
        "needs a server dying between a commit and keeping its answer",
    ),
];

/// The reasons of common.proto's ErrorReason and of the service protos' lists.
fn documented_reasons() -> BTreeSet<String> {
    let mut reasons = BTreeSet::new();
    for proto in PROTOS {
        for line in proto.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("ERROR_REASON_")
                && let Some((name, _)) = rest.split_once(' ')
                && name != "UNSPECIFIED"
            {
                reasons.insert(name.to_owned());
            }
            // The services' lists: "//   * NAME (CODE): …" or "//   * NAME   CODE: …".
            if let Some(item) = line.strip_prefix("//   * ")
                && let Some(name) = item.split([' ', ',', '(', ':']).next()
                && name.len() > 3
                && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && !name.ends_with('_')
            {
                reasons.insert(name.to_owned());
            }
        }
    }
    reasons
}

#[test]
fn every_documented_reason_is_answered_over_http_or_accounted_for() {
    let asserted: BTreeSet<String> = TESTS
        .iter()
        .flat_map(|source| source.split("refused(\"").skip(1))
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .chain(ASSERTED_RAW.iter().map(|(reason, _)| (*reason).to_owned()))
        .collect();
    let mut missing = Vec::new();
    for reason in documented_reasons() {
        assert!(
            roster_gateway::reasons::lookup(&reason).is_some(),
            "{reason} has no row in the gateway's error table"
        );
        if !asserted.contains(&reason) && !ACCOUNTED_FOR.iter().any(|(r, _)| *r == reason) {
            missing.push(reason);
        }
    }
    assert!(
        missing.is_empty(),
        "reasons no gateway test asserts: {missing:?}"
    );
    // The gateway's own refusals are asserted too.
    for own in [
        "MALFORMED_REQUEST",
        "BODY_TOO_LARGE",
        "LENGTH_REQUIRED",
        "RANGE_NOT_SATISFIABLE",
        "ROUTE_NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "RATE_LIMITED",
        "DEADLINE_EXCEEDED",
        "UNAVAILABLE",
    ] {
        assert!(asserted.contains(own), "{own} is not asserted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_its_own_refusals_in_the_same_body() {
    let app = Gateway::spawn_with(Backend::Sqlite, |settings| {
        settings.gateway.request_timeout_ms = 300;
    })
    .await;
    let admin = app.admin_token();
    app.get("/v2/anything", Some(&admin))
        .await
        .refused("ROUTE_NOT_FOUND");
    let wrong = app
        .send(app.request(Method::PUT, "/v1/users", Some(&admin)))
        .await;
    wrong.refused("METHOD_NOT_ALLOWED");
    let allowed = wrong.header("allow").unwrap_or_default().to_owned();
    assert!(
        allowed.contains("GET") && allowed.contains("POST"),
        "{allowed}"
    );
    let garbage = app
        .send(
            app.request(Method::POST, "/v1/users", Some(&admin))
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    garbage.refused("MALFORMED_REQUEST");
    let wrong_shape = app
        .json(Method::POST, "/v1/users", Some(&admin), json!({"name": 7}))
        .await;
    assert_eq!(wrong_shape.refused("INVALID_FIELD").fields(), ["name"]);

    // An upload whose body never completes runs into the request timeout.
    let address = app.base.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap_or_else(|e| panic!("{e}"));
        let head = format!(
            "POST /v1/files?name=slow.bin&ownerUserId=1 HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {admin}\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000\r\n\r\nonly the first bytes"
        );
        stream.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).ok();
        answer
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(
        answer.contains("\"reason\":\"DEADLINE_EXCEEDED\"") && answer.contains("500004"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_does_not_answer_is_unavailable() {
    // The gateway alone, with the user service configured somewhere nobody listens.
    let database = TestDatabase::new(Backend::Sqlite).await;
    let mut settings = RosterSettings::default();
    settings.common.data_dir =
        std::env::temp_dir().join(format!("roster-gw-{}", uuid::Uuid::new_v4()));
    settings.roles.database_url = Some(Secret::new(&database.url));
    settings.files.database_url = Some(Secret::new(&database.url));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    settings.common.endpoints.users = format!("http://{closed}");
    settings.common.endpoints.moderation = format!("http://{closed}");
    settings.gateway.listen = "127.0.0.1:0".into();
    let keys = std::sync::Arc::new(roster_kit::TokenKeys::generate("roster"));
    let (listener, _) = local_listener().await;
    let services = [Service::Roles, Service::Files, Service::Gateway];
    let suite = Suite::start(&settings, &services, keys.clone(), &listener)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let http = suite
        .gateway_address()
        .unwrap_or_else(|| panic!("a gateway"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(suite.serve(listener, async {
        let _ = stopped.await;
    }));
    let admin = keys
        .issue_admin("tests", std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let response = reqwest::Client::new()
        .get(format!("http://{http}/v1/users/1"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(
        (&body["reason"], &body["code"]),
        (&json!("UNAVAILABLE"), &json!(500_003))
    );
    assert!(
        !body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&closed.to_string()),
        "{body}"
    );
    drop(stop);

    // And the gateway refuses to start without any user service to call.
    let mut alone = settings.clone();
    alone.common.endpoints.users = String::new();
    let (listener, _) = local_listener().await;
    let refused = Suite::start(&alone, &services, keys, &listener).await.err();
    assert_eq!(refused.map(|e| e.reason), Some("INVALID_FIELD"));
    let _ = std::fs::remove_dir_all(&settings.common.data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refusals_keep_their_reasons() {
    let app = Gateway::spawn_with(Backend::Sqlite, |settings| {
        settings.users.dev_logins = true;
        settings.users.login_secret = Some(Secret::new("s3cret"));
    })
    .await;
    let admin = app.admin_token();
    // Development logins by name alone, except for a user who holds a role.
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"name": "casual"}),
    )
    .await
    .ok();
    let (moderator, _) = app.user("moderator").await;
    app.json(
        Method::POST,
        &format!("/v1/users/{moderator}/roles"),
        Some(&admin),
        json!({"role": "channel-moderator", "scope": {"channelId": "general"}}),
    )
    .await
    .ok();
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"name": "moderator"}),
    )
    .await
    .refused("LOGIN_CREDENTIAL_REQUIRED");
    // A genuine credential past its expiry.
    let expired_at = chrono::Utc::now().timestamp() - 30;
    let mac = {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap_or_else(|e| panic!("{e}"));
        mac.update(format!("roster-login-v1\nmoderator\n{expired_at}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"name": "moderator", "authToken": mac, "authExpiresAt": expired_at}),
    )
    .await
    .refused("AUTH_TOKEN_EXPIRED");
    // Failed logins are limited, with a retry hint.
    let mut last = None;
    for _ in 0..10 {
        let answer = app
            .json(
                Method::POST,
                "/v1/sessions",
                None,
                json!({"name": "moderator", "authToken": "0".repeat(64), "authExpiresAt": expired_at + 60}),
            )
            .await;
        if answer.body["reason"] == "LOGIN_RATE_LIMITED" {
            last = Some(answer);
            break;
        }
    }
    let limited = last.unwrap_or_else(|| panic!("failed logins were never limited"));
    limited.refused("LOGIN_RATE_LIMITED");
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1))
    );
}
