//! `/v1/users`: create, query, read, merge-patch with `If-Match`.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::json;

use crate::{helpers::Gateway, on_both_backends};

on_both_backends!(
    users_are_created_read_and_linked,
    queries_filter_sort_and_page_like_query_users,
    batch_get_answers_each_id_and_name,
    merge_patch_changes_what_it_names_guarded_by_if_match,
    the_current_user_is_the_user_of_the_token,
    an_idempotency_key_makes_a_retried_create_safe,
);

async fn users_are_created_read_and_linked(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let created = app
        .json(
            Method::POST,
            "/v1/users",
            Some(&admin),
            json!({"name": "jane", "displayName": "Jane Doe", "type": "BOT", "properties": {"team": "blue", "n": 42}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.body["id"].as_i64().unwrap_or_default();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/users/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    let user = &created.body;
    assert_eq!(user["name"], "jane");
    assert_eq!(user["displayName"], "Jane Doe");
    assert_eq!(user["type"], "BOT");
    assert_eq!(user["properties"], json!({"team": "blue", "n": 42}));
    assert_eq!(
        user["presence"],
        json!({"status": "UNAVAILABLE", "online": false})
    );
    assert_eq!(user["callStatus"], "AVAILABLE");
    assert_eq!(user["version"], 1);
    for (rel, path) in [
        ("self", format!("/v1/users/{id}")),
        ("avatar", format!("/v1/users/{id}/display-picture")),
        ("roles", format!("/v1/users/{id}/roles")),
        ("presence", format!("/v1/users/{id}/presence")),
        ("files", format!("/v1/users/{id}/files")),
    ] {
        // Links are absolute, on the public URL (this gateway), and lead somewhere.
        let href = user["_links"][rel]["href"].as_str().unwrap_or_default();
        assert_eq!(href, app.url(&path), "{rel}");
        let followed = app.get(&path, Some(&admin)).await;
        assert_eq!(followed.status, StatusCode::OK, "{rel}: {followed:?}");
    }
    assert!(
        user["_links"].get("displayPicture").is_none(),
        "no picture, no link"
    );

    let by_id = app.get(&format!("/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(by_id.ok()["name"], "jane");
    assert_eq!(by_id.header("etag"), Some("\"1\""));
    let by_name = app.get("/v1/users/by-name/jane", Some(&admin)).await;
    assert_eq!(by_name.ok()["id"], json!(id));

    app.get("/v1/users/999999", Some(&admin))
        .await
        .refused("USER_NOT_FOUND");
    app.get("/v1/users/by-name/nobody", Some(&admin))
        .await
        .refused("USER_NOT_FOUND");
    let bad = app.get("/v1/users/abc", Some(&admin)).await;
    assert_eq!(bad.refused("INVALID_FIELD").fields(), ["id"]);
    // A user may not create users; the name stays free.
    let (_, user_token) = app.user("someone").await;
    app.json(
        Method::POST,
        "/v1/users",
        Some(&user_token),
        json!({"name": "mallory"}),
    )
    .await
    .refused("PERMISSION_DENIED");
    app.get("/v1/users/by-name/mallory", Some(&admin))
        .await
        .refused("USER_NOT_FOUND");
    app.json(
        Method::POST,
        "/v1/users",
        Some(&admin),
        json!({"name": "jane"}),
    )
    .await
    .refused("USER_ALREADY_EXISTS");
    app.get("/v1/users/by-name/jane", None)
        .await
        .refused("TOKEN_MISSING");
}

async fn queries_filter_sort_and_page_like_query_users(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    for name in ["adam", "arthur", "Alice", "Andre", "charlie", "Kristen"] {
        app.create_user(name).await;
    }
    app.json(
        Method::POST,
        "/v1/users",
        Some(&admin),
        json!({"name": "robot", "type": "BOT"}),
    )
    .await
    .ok();
    let names = |answer: &crate::helpers::Answer| -> Vec<String> {
        answer.body["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u["displayName"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The order is the user service's (QueryUsers); the gateway passes it on,
    // with its paging.
    let first = app
        .get("/v1/users?keyword=a&pageSize=3", Some(&admin))
        .await;
    first.ok();
    let token = first.body["nextPageToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty());
    let second = app
        .get(
            &format!("/v1/users?keyword=a&pageSize=3&pageToken={token}"),
            Some(&admin),
        )
        .await;
    assert_eq!((names(&first).len(), names(&second).len()), (3, 1));
    assert!(second.body.get("nextPageToken").is_none(), "{second:?}");
    let mut found = [names(&first), names(&second)].concat();
    found.sort();
    assert_eq!(found, ["Alice", "Andre", "adam", "arthur"]);

    let bots = app.get("/v1/users?type=BOT", Some(&admin)).await;
    assert_eq!(names(&bots), ["robot"]);
    let newest = app
        .get("/v1/users?sort=LAST_CREATED&pageSize=1", Some(&admin))
        .await;
    assert_eq!(names(&newest), ["robot"]);
    let oldest = app
        .get(
            "/v1/users?sort=FIRST_CREATED&pageSize=1&isGuest=false",
            Some(&admin),
        )
        .await;
    assert_eq!(names(&oldest), ["adam"]);

    // A page token of another query, a bad sort, a page too large: typed refusals.
    app.get(
        &format!("/v1/users?keyword=b&pageSize=3&pageToken={token}"),
        Some(&admin),
    )
    .await
    .refused("PAGE_TOKEN_INVALID");
    let sort = app.get("/v1/users?sort=NAME", Some(&admin)).await;
    assert_eq!(sort.refused("INVALID_FIELD").fields(), ["sort"]);
    let size = app.get("/v1/users?pageSize=500", Some(&admin)).await;
    assert_eq!(size.refused("INVALID_FIELD").fields(), ["pageSize"]);
}

async fn batch_get_answers_each_id_and_name(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let (jane, _) = app.user("jane").await;
    let answer = app
        .json(
            Method::POST,
            "/v1/users:batchGet",
            Some(&admin),
            json!({"ids": [jane, 424242], "names": ["jane", "ghost"]}),
        )
        .await;
    let results = answer.ok()["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let summary: Vec<_> = results
        .iter()
        .map(|r| {
            (
                r["id"].as_i64(),
                r["name"].as_str().map(str::to_owned),
                r["notFound"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some(jane), None, Some(false)),
            (Some(424242), None, Some(true)),
            (None, Some("jane".to_owned()), Some(false)),
            (None, Some("ghost".to_owned()), Some(true)),
        ]
    );
    assert_eq!(results[0]["user"]["name"], "jane");
    let too_many: Vec<i64> = (1..=101).collect();
    app.json(
        Method::POST,
        "/v1/users:batchGet",
        Some(&admin),
        json!({"ids": too_many}),
    )
    .await
    .refused("INVALID_FIELD");
}

async fn merge_patch_changes_what_it_names_guarded_by_if_match(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let created = app
        .json(
            Method::POST,
            "/v1/users",
            Some(&admin),
            json!({"name": "jane", "description": "hello", "properties": {"team": "blue", "city": "Porto"}}),
        )
        .await;
    let id = created.body["id"].as_i64().unwrap_or_default();
    let token = app.user_token(id);
    let path = format!("/v1/users/{id}");
    let patch = |body: serde_json::Value, if_match: Option<&str>| {
        let mut request = app
            .request(Method::PATCH, &path, Some(&token))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        app.send(request)
    };

    let changed = patch(
        json!({"displayName": "Jane D.", "description": null, "properties": {"city": "Lisbon", "team": null}}),
        Some("\"1\""),
    )
    .await;
    let user = changed.ok();
    assert_eq!(user["displayName"], "Jane D.");
    assert_eq!(user["description"], "");
    assert_eq!(user["properties"], json!({"city": "Lisbon"}));
    assert_eq!(changed.header("etag"), Some("\"2\""));

    // A stale If-Match changes nothing.
    patch(json!({"displayName": "Lost Update"}), Some("\"1\""))
        .await
        .refused("VERSION_CONFLICT");
    // Bad values and unknown members name the field and change nothing.
    let empty = patch(json!({"displayName": ""}), None).await;
    assert_eq!(empty.refused("INVALID_FIELD").fields(), ["displayName"]);
    let unknown = patch(json!({"colour": "red"}), None).await;
    unknown.refused("INVALID_FIELD");
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("colour")
    );
    let bad_tag = patch(json!({"displayName": "x"}), Some("yesterday")).await;
    assert_eq!(bad_tag.refused("INVALID_FIELD").fields(), ["If-Match"]);
    let now = app.get(&path, Some(&admin)).await;
    assert_eq!(now.body["displayName"], "Jane D.");
    assert_eq!(now.header("etag"), Some("\"2\""));

    // Another user may not change jane.
    let (_, other) = app.user("other").await;
    let refused = app
        .send(
            app.request(Method::PATCH, &path, Some(&other))
                .header("content-type", "application/json")
                .body(json!({"displayName": "Hacked"}).to_string()),
        )
        .await;
    refused.refused("PERMISSION_DENIED");
    assert_eq!(
        app.get(&path, Some(&admin)).await.body["displayName"],
        "Jane D."
    );
    // Not JSON at all.
    let garbage = app
        .send(
            app.request(Method::PATCH, &path, Some(&token))
                .header("content-type", "application/json")
                .body("{\"displayName\": "),
        )
        .await;
    garbage.refused("MALFORMED_REQUEST");
    let form = app
        .send(
            app.request(Method::PATCH, &path, Some(&token))
                .body("displayName=x"),
        )
        .await;
    form.refused("UNSUPPORTED_MEDIA_TYPE");
}

async fn the_current_user_is_the_user_of_the_token(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (id, token) = app.user("jane").await;
    let me = app.get("/v1/users/me", Some(&token)).await;
    assert_eq!(me.ok()["id"], json!(id));
    let changed = app
        .json(
            Method::PATCH,
            "/v1/users/me",
            Some(&token),
            json!({"displayName": "Me Myself"}),
        )
        .await;
    assert_eq!(changed.ok()["displayName"], "Me Myself");
    // `me` works wherever a user id goes.
    let presence = app.get("/v1/users/me/presence", Some(&token)).await;
    assert_eq!(presence.ok()["userId"], json!(id));
    // An admin token is nobody's session; no token is nobody at all.
    let admin = app.get("/v1/users/me", Some(&app.admin_token())).await;
    assert_eq!(admin.refused("INVALID_FIELD").fields(), ["id"]);
    app.get("/v1/users/me", None).await.refused("TOKEN_MISSING");
    app.get("/v1/users/me", Some("not-a-token"))
        .await
        .refused("TOKEN_INVALID");
}

async fn an_idempotency_key_makes_a_retried_create_safe(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let create = |name: &str, key: &str| {
        app.request(Method::POST, "/v1/users", Some(&admin))
            .header("Idempotency-Key", key)
            .json(&json!({"name": name}))
    };
    let first = app.send(create("jane", "create-jane")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let retried = app.send(create("jane", "create-jane")).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{retried:?}");
    assert_eq!(retried.body, first.body, "the retry answers the first user");
    app.send(create("jim", "create-jane"))
        .await
        .refused("IDEMPOTENCY_KEY_REUSED");
    let jim = app
        .json(
            Method::POST,
            "/v1/users",
            Some(&admin),
            json!({"name": "jim"}),
        )
        .await;
    assert_eq!(
        jim.status,
        StatusCode::CREATED,
        "the refused call created nothing: {jim:?}"
    );
    let unkeyed = app
        .json(
            Method::POST,
            "/v1/users",
            Some(&admin),
            json!({"name": "jane"}),
        )
        .await;
    unkeyed.refused("USER_ALREADY_EXISTS");
    let malformed = app.send(create("joe", "two words")).await;
    malformed.refused("INVALID_FIELD");
    assert_eq!(malformed.fields(), ["idempotency-key"]);
}
