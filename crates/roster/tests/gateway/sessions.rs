//! Sessions over HTTP: login (native with a credential, guest), tokens minted
//! by a backend, revocation, and the public keys that verify sessions.

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use roster_kit::{config::Secret, testing::Backend};
use serde_json::json;
use sha2::Sha256;

use crate::{helpers::Gateway, on_both_backends};

on_both_backends!(
    backends_mint_sessions_and_revoke_them,
    logins_follow_the_user_service_rules,
);

const SECRET: &str = "s3cret";

/// A native login credential, made as a product backend makes it (users.proto).
fn credential(name: &str, expires_at: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(format!("roster-login-v1\n{name}\n{expires_at}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn backends_mint_sessions_and_revoke_them(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let admin = app.admin_token();
    let session = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&admin),
            json!({"name": "jane", "displayName": "Jane"}),
        )
        .await;
    let body = session.ok();
    let token = body["accessToken"].as_str().unwrap_or_default().to_owned();
    let id = body["user"]["id"].as_i64().unwrap_or_default();
    assert!(body["expiresAt"].is_string());
    assert_eq!(
        app.get("/v1/users/me", Some(&token)).await.ok()["id"],
        json!(id)
    );

    // Only admins mint sessions.
    app.json(
        Method::POST,
        "/v1/tokens",
        Some(&token),
        json!({"name": "eve"}),
    )
    .await
    .refused("PERMISSION_DENIED");
    app.get("/v1/users/by-name/eve", Some(&admin))
        .await
        .refused("USER_NOT_FOUND");

    // Revoking: earlier tokens stop working, later ones work.
    app.send(app.request(
        Method::DELETE,
        &format!("/v1/users/{id}/tokens"),
        Some(&token),
    ))
    .await
    .refused("PERMISSION_DENIED");
    let revoked = app
        .send(app.request(
            Method::DELETE,
            &format!("/v1/users/{id}/tokens"),
            Some(&admin),
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    app.get("/v1/users/me", Some(&token))
        .await
        .refused("TOKEN_REVOKED");
    let fresh = app
        .json(
            Method::POST,
            "/v1/tokens",
            Some(&admin),
            json!({"name": "jane"}),
        )
        .await;
    let fresh = fresh.ok()["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.get("/v1/users/me", Some(&fresh)).await.ok();

    // The published keys verify the session, as a product would offline.
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let keys = jwks.ok()["keys"].as_array().cloned().unwrap_or_default();
    let header = jsonwebtoken::decode_header(&fresh).unwrap_or_else(|e| panic!("{e}"));
    let key = keys
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap_or_else(|| panic!("the session's key {:?} is published: {keys:?}", header.kid));
    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&["roster"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&fresh, &decoding, &validation)
        .unwrap_or_else(|e| panic!("the session does not verify with the published key: {e}"))
        .claims;
    assert_eq!(claims["sub"], json!(id.to_string()));
}

async fn logins_follow_the_user_service_rules(backend: Backend) {
    // Without users.login_secret a native login is refused, whatever it sends.
    let plain = Gateway::spawn(backend).await;
    plain
        .json(Method::POST, "/v1/sessions", None, json!({"name": "jane"}))
        .await
        .refused("LOGIN_NOT_CONFIGURED");

    let app = Gateway::spawn_with(backend, |settings| {
        settings.users.login_secret = Some(Secret::new(SECRET));
    })
    .await;
    let expires_at = chrono::Utc::now().timestamp() + 120;
    let login = app
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            json!({"name": "jane", "authToken": credential("jane", expires_at), "authExpiresAt": expires_at}),
        )
        .await;
    let body = login.ok();
    assert_eq!(body["created"], true);
    let token = body["accessToken"].as_str().unwrap_or_default();
    assert_eq!(
        app.get("/v1/users/me", Some(token)).await.ok()["name"],
        "jane"
    );
    // The credential as `roster token login-auth` prints it: the expiry as a string.
    let again = app
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            json!({"name": "jane", "authToken": credential("jane", expires_at), "authExpiresAt": expires_at.to_string()}),
        )
        .await;
    assert_eq!(again.ok()["created"], false);
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"name": "jane", "authToken": credential("mallory", expires_at), "authExpiresAt": expires_at}),
    )
    .await
    .refused("AUTH_TOKEN_INVALID");

    // Guests: created with a secret, resumed only with it.
    let guest = app
        .json(Method::POST, "/v1/sessions", None, json!({"guest": true}))
        .await;
    let guest = guest.ok().clone();
    let name = guest["user"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = guest["guestSecret"].as_str().unwrap_or_default().to_owned();
    assert!(
        !secret.is_empty() && guest["user"]["isGuest"] == true,
        "{guest}"
    );
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"guest": true, "name": name, "guestSecret": secret}),
    )
    .await
    .ok();
    app.json(
        Method::POST,
        "/v1/sessions",
        None,
        json!({"guest": true, "name": name, "guestSecret": "0".repeat(64)}),
    )
    .await
    .refused("GUEST_SECRET_INVALID");

    let closed = Gateway::spawn_with(backend, |settings| settings.users.allow_guests = false).await;
    closed
        .json(Method::POST, "/v1/sessions", None, json!({"guest": true}))
        .await
        .refused("GUESTS_DISABLED");
}
