//! Roles, grants and permission checks over HTTP.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::json;

use crate::{helpers::Gateway, on_both_backends};

on_both_backends!(
    custom_roles_are_managed_with_versions,
    grants_scope_permissions,
);

async fn custom_roles_are_managed_with_versions(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let catalogue = app.get("/v1/permissions", Some(&admin)).await;
    let permissions = catalogue.ok()["permissions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let delete_message = permissions
        .iter()
        .find(|p| p["name"] == "DELETE_MESSAGE")
        .unwrap_or_else(|| panic!("DELETE_MESSAGE is in the catalogue"));
    assert_eq!(delete_message["group"], "CHANNEL");

    let created = app
        .json(
            Method::POST,
            "/v1/roles",
            Some(&admin),
            json!({"name": "helper", "description": "helps", "permissions": ["EDIT_MESSAGE"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.header("location"), Some("/v1/roles/helper"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let read = app.get("/v1/roles/helper", Some(&admin)).await;
    assert_eq!(read.ok()["permissions"], json!(["EDIT_MESSAGE"]));
    assert_eq!(read.body["builtIn"], false);

    let changed = app
        .send(
            app.request(Method::PATCH, "/v1/roles/helper", Some(&admin))
                .header("if-match", "\"1\"")
                .json(&json!({"permissions": ["EDIT_MESSAGE", "DELETE_MESSAGE"]})),
        )
        .await;
    assert_eq!(
        changed.ok()["permissions"],
        json!(["DELETE_MESSAGE", "EDIT_MESSAGE"])
    );
    assert_eq!(changed.header("etag"), Some("\"2\""));
    app.send(
        app.request(Method::PATCH, "/v1/roles/helper", Some(&admin))
            .header("if-match", "\"1\"")
            .json(&json!({"description": "stale"})),
    )
    .await
    .refused("VERSION_CONFLICT");
    let unknown = app
        .json(
            Method::POST,
            "/v1/roles",
            Some(&admin),
            json!({"name": "bad", "permissions": ["EDIT_MESSAGE", "FLY"]}),
        )
        .await;
    assert_eq!(
        unknown.refused("INVALID_FIELD").fields(),
        ["permissions[1]"]
    );
    app.json(
        Method::POST,
        "/v1/roles",
        Some(&admin),
        json!({"name": "helper"}),
    )
    .await
    .refused("ROLE_ALREADY_EXISTS");
    app.json(
        Method::PATCH,
        "/v1/roles/super-moderator",
        Some(&admin),
        json!({"description": "x"}),
    )
    .await
    .refused("ROLE_BUILT_IN");
    app.get("/v1/roles/nothing", Some(&admin))
        .await
        .refused("ROLE_NOT_FOUND");

    let listed = app.get("/v1/roles?pageSize=2", Some(&admin)).await;
    assert_eq!(listed.ok()["roles"].as_array().map(Vec::len), Some(2));
    assert!(listed.body["nextPageToken"].is_string());

    // A user without CREATE_ROLE creates nothing.
    let (_, user) = app.user("jane").await;
    app.json(
        Method::POST,
        "/v1/roles",
        Some(&user),
        json!({"name": "mine"}),
    )
    .await
    .refused("PERMISSION_DENIED");
    app.get("/v1/roles/mine", Some(&admin))
        .await
        .refused("ROLE_NOT_FOUND");

    // Granted, the role is deleted only with force.
    let (holder, _) = app.user("holder").await;
    app.json(
        Method::POST,
        &format!("/v1/users/{holder}/roles"),
        Some(&admin),
        json!({"role": "helper", "scope": {"network": {}}}),
    )
    .await
    .ok();
    app.send(app.request(Method::DELETE, "/v1/roles/helper", Some(&admin)))
        .await
        .refused("ROLE_IN_USE");
    let deleted = app
        .send(app.request(Method::DELETE, "/v1/roles/helper?force=true", Some(&admin)))
        .await;
    assert_eq!(deleted.ok()["revokedGrants"], 1);
    app.get("/v1/roles/helper", Some(&admin))
        .await
        .refused("ROLE_NOT_FOUND");
}

async fn grants_scope_permissions(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let (jane, token) = app.user("jane").await;
    let path = format!("/v1/users/{jane}/roles");
    let grant = json!({"role": "channel-moderator", "scope": {"channelId": "general"}});
    let first = app
        .json(Method::POST, &path, Some(&admin), grant.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(
        first.body["grant"]["scope"],
        json!({"channelId": "general"})
    );
    assert_eq!(first.body["created"], true);
    let again = app.json(Method::POST, &path, Some(&admin), grant).await;
    assert_eq!(
        (again.status, &again.body["created"]),
        (StatusCode::OK, &json!(false))
    );

    let mine = app.get("/v1/users/me/roles", Some(&token)).await;
    let grants = mine.ok()["grants"].as_array().cloned().unwrap_or_default();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["role"], "channel-moderator");
    let members = app
        .get("/v1/roles/channel-moderator/members", Some(&token))
        .await;
    assert_eq!(members.ok()["grants"][0]["userId"], json!(jane));

    let check = |channel: &str| json!({"userId": jane, "permission": "DELETE_MESSAGE", "scope": {"channelId": channel}});
    let here = app
        .json(
            Method::POST,
            "/v1/permissions:check",
            Some(&token),
            check("general"),
        )
        .await;
    assert_eq!(here.ok()["allowed"], true);
    assert_eq!(here.body["grantedBy"]["role"], "channel-moderator");
    let elsewhere = app
        .json(
            Method::POST,
            "/v1/permissions:check",
            Some(&token),
            check("random"),
        )
        .await;
    assert_eq!(elsewhere.ok()["allowed"], false);
    let batch = app
        .json(
            Method::POST,
            "/v1/permissions:batchCheck",
            Some(&token),
            json!({"checks": [check("general"), check("random")]}),
        )
        .await;
    let allowed: Vec<_> = batch.ok()["results"]
        .as_array()
        .map(|r| r.iter().map(|a| a["allowed"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(allowed, [json!(true), json!(false)]);
    let bad = app
        .json(
            Method::POST,
            "/v1/permissions:batchCheck",
            Some(&token),
            json!({"checks": [check("general"), {"userId": jane, "permission": "FLY"}]}),
        )
        .await;
    assert_eq!(
        bad.refused("INVALID_FIELD").fields(),
        ["checks[1].permission"]
    );
    let two_scopes = app
        .json(
            Method::POST,
            "/v1/permissions:check",
            Some(&token),
            json!({"userId": jane, "permission": "DELETE_MESSAGE", "scope": {"channelId": "a", "communityId": "b"}}),
        )
        .await;
    assert_eq!(two_scopes.refused("INVALID_FIELD").fields(), ["scope"]);

    // Jane may not grant, and global-admin is granted by nobody here.
    app.json(
        Method::POST,
        &path,
        Some(&token),
        json!({"role": "super-moderator", "scope": {"network": {}}}),
    )
    .await
    .refused("PERMISSION_DENIED");
    app.json(
        Method::POST,
        &path,
        Some(&admin),
        json!({"role": "global-admin", "scope": {"network": {}}}),
    )
    .await
    .refused("ROLE_NOT_ASSIGNABLE");

    // Revoking names the exact scope.
    app.send(app.request(
        Method::DELETE,
        &format!("{path}/channel-moderator"),
        Some(&admin),
    ))
    .await
    .refused("GRANT_NOT_FOUND");
    let revoked = app
        .send(app.request(
            Method::DELETE,
            &format!("{path}/channel-moderator?channelId=general"),
            Some(&admin),
        ))
        .await;
    assert_eq!(revoked.ok()["grant"]["role"], "channel-moderator");
    let gone = app
        .json(
            Method::POST,
            "/v1/permissions:check",
            Some(&token),
            check("general"),
        )
        .await;
    assert_eq!(gone.ok()["allowed"], false);
}
