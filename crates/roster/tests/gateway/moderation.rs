//! Moderation over HTTP: flags, bans, deletion jobs, the audit log, and the
//! moderation links a user's caller may follow.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::{Value, json};

use crate::{
    helpers::{Gateway, SseReader},
    on_both_backends,
};

on_both_backends!(
    flags_are_raised_listed_and_withdrawn,
    bans_stop_sessions_until_lifted,
    deletion_is_a_job_with_a_receipt,
);

async fn watch_me(app: &Gateway, token: &str) -> SseReader {
    let response = app
        .request(Method::GET, "/v1/users/me/events", Some(token))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    SseReader::new(response)
}

fn links(user: &Value) -> Vec<String> {
    let mut rels: Vec<String> = user["_links"]
        .as_object()
        .map(|links| links.keys().cloned().collect())
        .unwrap_or_default();
    rels.sort();
    rels
}

async fn flags_are_raised_listed_and_withdrawn(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let (target, target_token) = app.user("target").await;
    let (_, flagger) = app.user("flagger").await;
    let path = format!("/v1/users/{target}/flags/me");

    // A user is offered the flag link on others, never on itself; only
    // moderators see the rest.
    let seen = app
        .get(&format!("/v1/users/{target}"), Some(&flagger))
        .await;
    assert_eq!(
        links(seen.ok()),
        ["avatar", "files", "flag", "presence", "roles", "self"]
    );
    let own = app.get("/v1/users/me", Some(&target_token)).await;
    assert!(!links(own.ok()).contains(&"flag".to_owned()));
    let moderator = app.get(&format!("/v1/users/{target}"), Some(&admin)).await;
    assert_eq!(
        links(moderator.ok()),
        [
            "avatar", "ban", "delete", "files", "flag", "flags", "presence", "roles", "self"
        ]
    );
    assert_eq!(
        moderator.body["_links"]["flag"]["href"],
        json!(app.url(&path))
    );

    let mut events = watch_me(&app, &target_token).await;
    let first = app
        .json(
            Method::PUT,
            &path,
            Some(&flagger),
            json!({"reason": "SPAM", "note": "buy now"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(
        (&first.body["flagCount"], &first.body["flag"]["reason"]),
        (&json!(1), &json!("SPAM"))
    );
    let again = app
        .json(
            Method::PUT,
            &path,
            Some(&flagger),
            json!({"reason": "HARASSMENT"}),
        )
        .await;
    assert_eq!(
        (again.status, &again.body["created"]),
        (StatusCode::OK, &json!(false))
    );
    // The user service follows: the flagged user sees its flag count change.
    let (changed, _) = events.until(|e| e.event == "flag-count").await;
    assert_eq!(changed.data["user"]["flagCount"], 1);

    let asked = app
        .json(
            Method::POST,
            "/v1/users:flaggedByMe",
            Some(&flagger),
            json!({"userIds": [target, 999]}),
        )
        .await;
    assert_eq!(
        asked.ok()["results"],
        json!([{"userId": target, "flagged": true}, {"userId": 999, "flagged": false}])
    );
    app.json(
        Method::PUT,
        "/v1/users/me/flags/me",
        Some(&flagger),
        json!({}),
    )
    .await
    .refused("INVALID_FIELD");
    app.get(&format!("/v1/users/{target}/flags"), Some(&flagger))
        .await
        .refused("PERMISSION_DENIED");
    let listed = app
        .get(&format!("/v1/users/{target}/flags"), Some(&admin))
        .await;
    assert_eq!(listed.ok()["flagCount"], 1);
    assert_eq!(listed.body["flags"][0]["reason"], "HARASSMENT");

    let withdrawn = app
        .send(app.request(Method::DELETE, &path, Some(&flagger)))
        .await;
    assert_eq!(withdrawn.ok()["flagCount"], 0);
    app.send(app.request(Method::DELETE, &path, Some(&flagger)))
        .await
        .refused("FLAG_NOT_FOUND");
    app.json(
        Method::PUT,
        &path,
        Some(&flagger),
        json!({"reason": "OTHER"}),
    )
    .await
    .ok();
    let cleared = app
        .send(app.request(
            Method::DELETE,
            &format!("/v1/users/{target}/flags?reason=dismissed"),
            Some(&admin),
        ))
        .await;
    assert_eq!(cleared.ok()["removedCount"], 1);

    let audit = app
        .get(
            &format!("/v1/audit-entries?targetUserId={target}"),
            Some(&admin),
        )
        .await;
    let actions: Vec<Value> = audit.ok()["entries"]
        .as_array()
        .map(|e| e.iter().map(|e| e["action"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        [
            json!("CLEAR_FLAGS"),
            json!("FLAG_USER"),
            json!("UNFLAG_USER"),
            json!("FLAG_USER"),
            json!("FLAG_USER")
        ]
    );
    let stream = app
        .request(Method::GET, "/v1/events/moderation", Some(&admin))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut moderation = SseReader::new(stream);
    let flagged = moderation.next().await;
    assert_eq!(
        (flagged.event.as_str(), &flagged.data["userId"]),
        ("user-flagged", &json!(target))
    );
    app.get("/v1/events/moderation", Some(&flagger))
        .await
        .refused("PERMISSION_DENIED");
}

async fn bans_stop_sessions_until_lifted(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let (target, token) = app.user("target").await;
    let (_, user) = app.user("user").await;
    let ban_path = format!("/v1/users/{target}/ban");
    app.json(Method::PUT, &ban_path, Some(&user), json!({"reason": "no"}))
        .await
        .refused("PERMISSION_DENIED");
    app.get(&ban_path, Some(&admin))
        .await
        .refused("BAN_NOT_FOUND");

    let mut events = watch_me(&app, &token).await;
    let banned = app
        .json(
            Method::PUT,
            &ban_path,
            Some(&admin),
            json!({"reason": "spam", "expiresAt": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(banned.status, StatusCode::CREATED, "{banned:?}");
    assert_eq!(banned.body["ban"]["state"], "ACTIVE");
    let (event, _) = events.until(|e| e.event == "banned").await;
    assert_eq!(event.data["user"]["isGlobalBanned"], true);
    assert_eq!(event.data["user"]["banExpiresAt"], "2099-01-01T00:00:00Z");
    // The banned user's session is over, and so is its stream.
    assert!(
        events.ends().await,
        "the stream of a banned session goes on"
    );
    app.get("/v1/users/me", Some(&token))
        .await
        .refused("USER_BANNED");
    let listed = app.get("/v1/bans?filter=ACTIVE", Some(&admin)).await;
    assert_eq!(listed.ok()["bans"][0]["userId"], json!(target));

    let lifted = app
        .send(app.request(
            Method::DELETE,
            &format!("{ban_path}?reason=appeal"),
            Some(&admin),
        ))
        .await;
    assert_eq!(lifted.ok()["ban"]["state"], "LIFTED");
    assert_eq!(lifted.body["ban"]["liftReason"], "appeal");
    app.send(app.request(Method::DELETE, &ban_path, Some(&admin)))
        .await
        .refused("BAN_NOT_FOUND");
    // Once the user service has the lift, the session counts again.
    let everything = app
        .request(Method::GET, "/v1/events/users", Some(&admin))
        .header("last-event-id", event.id.clone().unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut everything = SseReader::new(everything);
    everything
        .until(|e| e.event == "unbanned" && e.data["user"]["id"] == json!(target))
        .await;
    app.get("/v1/users/me", Some(&token)).await.ok();

    // Holders of EXEMPT_FROM_BAN cannot be banned.
    let (moderator, _) = app.user("moderator").await;
    app.json(
        Method::POST,
        &format!("/v1/users/{moderator}/roles"),
        Some(&admin),
        json!({"role": "super-moderator", "scope": {"network": {}}}),
    )
    .await
    .ok();
    app.json(
        Method::PUT,
        &format!("/v1/users/{moderator}/ban"),
        Some(&admin),
        json!({}),
    )
    .await
    .refused("TARGET_EXEMPT");
}

async fn deletion_is_a_job_with_a_receipt(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let (target, token) = app.user("target").await;
    let (_, user) = app.user("user").await;
    let path = format!("/v1/users/{target}");
    app.send(app.request(Method::DELETE, &path, Some(&user)))
        .await
        .refused("PERMISSION_DENIED");

    let preview = app
        .send(app.request(Method::DELETE, &format!("{path}?dryRun=true"), Some(&admin)))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{preview:?}");
    assert!(preview.body.get("job").is_none());
    assert!(
        preview.body["preview"]["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    app.get(&path, Some(&admin)).await.ok();

    let mut events = watch_me(&app, &token).await;
    let started = app
        .send(
            app.request(
                Method::DELETE,
                &format!("{path}?reason=asked&deleteAll=true"),
                Some(&admin),
            )
            .header("x-request-id", "req-delete-7"),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
    let job = started.body["job"]["id"].as_i64().unwrap_or_default();
    assert_eq!(started.body["job"]["options"]["deleteAll"], true);
    // The request id reaches the service: the job records it.
    assert_eq!(started.body["job"]["requestId"], "req-delete-7");
    assert_eq!(started.header("x-request-id"), Some("req-delete-7"));
    app.send(app.request(Method::DELETE, &path, Some(&admin)))
        .await
        .refused("USER_ALREADY_DELETED");
    app.json(
        Method::PUT,
        &format!("{path}/flags/me"),
        Some(&user),
        json!({}),
    )
    .await
    .refused("USER_DELETED");

    let (deleted, _) = events.until(|e| e.event == "deleted").await;
    assert_eq!(deleted.data["user"]["displayName"], "Deleted User");
    let read = app.get(&path, Some(&admin)).await;
    assert_eq!(read.ok()["isDeleted"], true);
    // A deleted user is offered no moderation link.
    assert_eq!(
        links(&read.body),
        ["avatar", "files", "presence", "roles", "self"]
    );
    let receipt = app
        .get(&format!("/v1/deletion-jobs/{job}"), Some(&admin))
        .await;
    assert_eq!(receipt.ok()["userId"], json!(target));
    assert!(
        receipt.body["steps"]
            .as_array()
            .is_some_and(|s| s.len() >= 4)
    );
    let jobs = app
        .get(&format!("/v1/deletion-jobs?userId={target}"), Some(&admin))
        .await;
    assert_eq!(jobs.ok()["jobs"][0]["id"], json!(job));
    app.get("/v1/deletion-jobs/424242", Some(&admin))
        .await
        .refused("DELETION_JOB_NOT_FOUND");
    app.get(&format!("/v1/deletion-jobs/{job}"), Some(&user))
        .await
        .refused("PERMISSION_DENIED");
}
