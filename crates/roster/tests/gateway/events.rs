//! Server-sent events: the current user's changes, presence of chosen users,
//! resuming with `Last-Event-ID`, and the admin-only streams.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::json;

use crate::{
    helpers::{Gateway, SseReader},
    on_both_backends,
};

on_both_backends!(
    the_current_user_is_observed_and_resumed,
    presence_streams_follow_chosen_users,
    the_streams_of_everything_are_for_admins,
);

async fn open(app: &Gateway, path: &str, token: Option<&str>, last: Option<&str>) -> SseReader {
    let mut request = app.request(Method::GET, path, token);
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    SseReader::new(response)
}

async fn rename(app: &Gateway, token: &str, name: &str) {
    app.json(
        Method::PATCH,
        "/v1/users/me",
        Some(token),
        json!({"displayName": name}),
    )
    .await
    .ok();
}

async fn the_current_user_is_observed_and_resumed(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (jane, token) = app.user("jane").await;
    let (_, other) = app.user("other").await;
    let mut events = open(&app, "/v1/users/me/events", Some(&token), None).await;
    let snapshot = events.next().await;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["id"], json!(jane));

    rename(&app, &other, "Not Jane").await;
    rename(&app, &token, "Jane One").await;
    let (first, skipped) = events
        .until(|e| e.data["user"]["displayName"] == "Jane One")
        .await;
    assert_eq!(first.event, "updated");
    assert_eq!(first.data["kind"], "UPDATED");
    assert_eq!(first.id.as_deref(), first.data["cursor"].as_str());
    // Only jane's own changes reach jane.
    for event in skipped.iter().chain([&first]) {
        assert_eq!(event.data["user"]["id"], json!(jane), "{event:?}");
    }
    drop(events);

    // Changes made while disconnected arrive on resume, and nothing before;
    // presence is live, so what it was meanwhile is not replayed.
    rename(&app, &token, "Jane Two").await;
    let set_online = |online: bool| {
        app.json(
            Method::PATCH,
            "/v1/users/me/presence",
            Some(&token),
            json!({ "online": online }),
        )
    };
    set_online(true).await.ok();
    let mut resumed = open(
        &app,
        "/v1/users/me/events",
        Some(&token),
        first.id.as_deref(),
    )
    .await;
    let next = resumed.next().await;
    assert_eq!(
        (next.event.as_str(), &next.data["user"]["displayName"]),
        ("updated", &json!("Jane Two"))
    );
    // A presence change while connected arrives live: no id to resume from,
    // the cursor of the last kept change.
    set_online(false).await.ok();
    let after = resumed.next().await;
    assert_eq!(after.event, "presence");
    assert_eq!(after.data["user"]["presence"]["online"], false);
    assert_eq!(after.data["live"], true);
    assert_eq!(after.id, None);
    assert_eq!(after.data["cursor"], next.data["cursor"]);

    // The user service replays what the gateway no longer holds: from the very start.
    let mut replay = open(&app, "/v1/users/me/events", Some(&token), Some("0")).await;
    let created = replay.next().await;
    assert_eq!(
        (created.event.as_str(), &created.data["user"]["id"]),
        ("created", &json!(jane))
    );

    let bad = app
        .send(
            app.request(Method::GET, "/v1/users/me/events", Some(&token))
                .header("last-event-id", "yesterday"),
        )
        .await;
    bad.refused("CURSOR_INVALID");
    app.get("/v1/users/me/events", None)
        .await
        .refused("TOKEN_MISSING");
    // A revoked session streams nothing.
    let admin = app.admin_token();
    app.send(app.request(
        Method::DELETE,
        &format!("/v1/users/{jane}/tokens"),
        Some(&admin),
    ))
    .await;
    app.get("/v1/users/me/events", Some(&token))
        .await
        .refused("TOKEN_REVOKED");
}

async fn presence_streams_follow_chosen_users(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (watcher_id, watcher) = app.user("watcher").await;
    let (jane, jane_token) = app.user("jane").await;
    let (_, bob_token) = app.user("bob").await;
    let mut events = open(
        &app,
        &format!("/v1/presence?ids={jane},{watcher_id}"),
        Some(&watcher),
        None,
    )
    .await;
    let snapshot = events.next().await;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["presences"].as_array().map(Vec::len), Some(2));

    let online = json!({"online": true, "status": "AVAILABLE"});
    app.json(
        Method::PATCH,
        "/v1/users/me/presence",
        Some(&bob_token),
        online.clone(),
    )
    .await
    .ok();
    rename(&app, &jane_token, "Jane").await;
    app.json(
        Method::PATCH,
        "/v1/users/me/presence",
        Some(&jane_token),
        online,
    )
    .await
    .ok();
    let change = events.next().await;
    // Bob is not followed and a rename is no presence change: the first event is jane's.
    assert_eq!(change.event, "presence");
    assert_eq!(
        (
            &change.data["userId"],
            &change.data["online"],
            &change.data["status"]
        ),
        (&json!(jane), &json!(true), &json!("AVAILABLE"))
    );

    app.get("/v1/presence?ids=1,x", Some(&watcher))
        .await
        .refused("INVALID_FIELD");
    let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    app.get(
        &format!("/v1/presence?ids={}", many.join(",")),
        Some(&watcher),
    )
    .await
    .refused("INVALID_FIELD");
    app.get(&format!("/v1/presence?ids={jane}"), None)
        .await
        .refused("TOKEN_MISSING");
}

async fn the_streams_of_everything_are_for_admins(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (jane, token) = app.user("jane").await;
    app.get("/v1/events/users", Some(&token))
        .await
        .refused("PERMISSION_DENIED");
    app.get("/v1/events/roles", Some(&token))
        .await
        .refused("PERMISSION_DENIED");
    let admin = app.admin_token();
    let mut users = open(&app, "/v1/events/users", Some(&admin), None).await;
    let created = users.next().await;
    assert_eq!(
        (created.event.as_str(), &created.data["user"]["id"]),
        ("created", &json!(jane))
    );
    let mut resumed = open(
        &app,
        "/v1/events/users",
        Some(&admin),
        created.id.as_deref(),
    )
    .await;
    rename(&app, &token, "Jane").await;
    let next = resumed.next().await;
    assert_eq!(
        (next.event.as_str(), &next.data["user"]["displayName"]),
        ("updated", &json!("Jane"))
    );

    app.json(
        Method::POST,
        &format!("/v1/users/{jane}/roles"),
        Some(&admin),
        json!({"role": "super-moderator", "scope": {"network": {}}}),
    )
    .await
    .ok();
    let mut roles = open(&app, "/v1/events/roles", Some(&admin), None).await;
    let granted = roles.next().await;
    assert_eq!(granted.event, "role-granted");
    assert_eq!(granted.data["grant"]["userId"], json!(jane));
}
