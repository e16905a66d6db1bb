//! Sessions: logging in, minting and revoking session tokens, and the public
//! keys that verify them.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use http::{StatusCode, header};
use roster_proto::v1 as pb;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::user_id;
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params},
    views::users::Session,
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(issue_user_token))
        .routes(routes!(revoke_user_tokens))
        .routes(routes!(jwks))
}

/// Who logs in, and how (see `Login` in users.proto).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Login {
    /// The user's unique name; may be empty for a new guest.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    /// Native logins: the credential your backend made with `users.login_secret`.
    #[serde(default)]
    pub auth_token: String,
    /// When `authToken` stops working, Unix seconds (a number, or a string of digits).
    #[serde(default, deserialize_with = "seconds")]
    #[schema(value_type = i64)]
    pub auth_expires_at: i64,
    #[serde(default)]
    pub guest: bool,
    /// Resuming a guest: the secret its first login returned.
    #[serde(default)]
    pub guest_secret: String,
}

/// Unix seconds as a JSON number, or as the string the proto JSON mapping writes.
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(text) => text
            .parse()
            .map_err(|_| serde::de::Error::custom("expected Unix seconds")),
    }
}

/// Start a user session (no token needed).
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", operation_id = "login",
    security((), ("bearer" = [])),
    request_body = Login,
    responses((status = 200, description = "A new session.", body = Session)))]
async fn login(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Session>> {
    let request = pb::LoginRequest {
        name: body.name,
        display_name: body.display_name,
        auth_token: body.auth_token,
        guest: body.guest,
        auth_expires_at: body.auth_expires_at,
        guest_secret: body.guest_secret,
    };
    let response = app.users().login(call.request(request)).await?.into_inner();
    Ok(Json(Session::from_login(response, &app.hrefs)))
}

/// Whom to mint a session token for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueUserToken {
    /// The user's name; the user is created when new.
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    /// Lifetime in seconds; 0 or absent: `auth.user_token_ttl_secs`.
    #[serde(default)]
    pub ttl_seconds: u32,
}

/// Mint a session token for a user, creating it when new (admin): how a backend logs its users in.
#[utoipa::path(post, path = "/v1/tokens", tag = "sessions", operation_id = "issueUserToken",
    request_body = IssueUserToken,
    responses((status = 200, description = "A session token for the user.", body = Session)))]
async fn issue_user_token(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<IssueUserToken>,
) -> ApiResult<Json<Session>> {
    let request = pb::IssueUserTokenRequest {
        name: body.name,
        display_name: body.display_name,
        ttl_seconds: body.ttl_seconds,
    };
    let response = app
        .users()
        .issue_user_token(call.request(request))
        .await?
        .into_inner();
    Ok(Json(Session::from_issue(response, &app.hrefs)))
}

/// Revoke every session token issued to a user so far (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/tokens", tag = "sessions", operation_id = "revokeUserTokens",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 204, description = "Every earlier token of the user now fails with TOKEN_REVOKED.")))]
async fn revoke_user_tokens(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<StatusCode> {
    let id = user_id(&call, &id)?;
    let request = pb::RevokeUserTokensRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
    };
    app.users()
        .revoke_user_tokens(call.request(request))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON Web Key Set (RFC 7517).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Jwks {
    /// Ed25519 keys: `{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "…", "x": "…"}`.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// The public keys that verify user and admin session tokens (no token needed).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "sessions", operation_id = "getJwks",
    security((), ("bearer" = [])),
    responses((status = 200, description = "The session verification keys.", body = Jwks)))]
async fn jwks(State(app): State<App>, call: Call) -> ApiResult<Response> {
    let response = app
        .users()
        .get_jwks(call.request(pb::GetJwksRequest {}))
        .await?
        .into_inner();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            // Keys rotate: a new one is published before it signs.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        response.jwks_json,
    )
        .into_response())
}
