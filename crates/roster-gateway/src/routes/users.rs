//! `/v1/users`: create, query, read (by id, by name, `me`) and update users.

use axum::{Json, extract::State, response::Response};
use http::{HeaderMap, StatusCode};
use roster_proto::v1 as pb;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{created, if_match, tagged, user_id};
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    views::{
        JsonObject, next_page, struct_from_json,
        users::{Avatar, User, UserType},
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_user, query_users))
        .routes(routes!(batch_get_users))
        .routes(routes!(get_current_user, update_current_user))
        .routes(routes!(
            get_user,
            update_user,
            super::moderation::delete_user
        ))
        .routes(routes!(get_user_by_name))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    /// The unique, immutable user name: 1–50 characters.
    pub name: String,
    /// PERSON (the default) or BOT.
    #[serde(default, rename = "type")]
    pub user_type: Option<UserType>,
    /// Defaults to `name`.
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_guest: bool,
    /// Custom JSON object, at most 16 KiB.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: JsonObject,
}

/// Create a user (admin).
#[utoipa::path(post, path = "/v1/users", tag = "users", operation_id = "createUser",
    request_body = CreateUser,
    responses((status = 201, description = "The new user.", body = User,
        headers(("ETag" = String, description = "The user's version."), ("Location" = String, description = "The user's URL.")))))]
async fn create_user(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<CreateUser>,
) -> ApiResult<Response> {
    let request = pb::CreateUserRequest {
        name: body.name,
        r#type: body
            .user_type
            .map_or(pb::UserType::Unspecified, UserType::to_proto)
            .into(),
        display_name: body.display_name,
        description: body.description,
        is_guest: body.is_guest,
        properties: Some(struct_from_json(&body.properties)),
    };
    let user = app
        .users()
        .create_user(call.request(request))
        .await?
        .into_inner();
    let location = format!("/v1/users/{}", user.id);
    let version = user.version;
    let mut response = created(&location, Json(view(&app, &call, user).await));
    response
        .headers_mut()
        .insert(http::header::ETAG, super::etag(version));
    Ok(response)
}

/// The order of a user query.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserSort {
    /// aA–zZ by display name (the default).
    DisplayName,
    FirstCreated,
    LastCreated,
}

/// Filters, order and paging of a user query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct QueryUsersParams {
    /// Display names starting with this keyword, ignoring case; exact matches rank first.
    keyword: Option<String>,
    #[param(inline)]
    sort: Option<UserSort>,
    /// Only users of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    user_type: Option<UserType>,
    /// True: only guests; false: no guests.
    is_guest: Option<bool>,
    /// True: only deleted users; false: none.
    is_deleted: Option<bool>,
    /// True: only globally banned users; false: none.
    is_global_banned: Option<bool>,
    /// True: users flagged at least once; false: never flagged.
    is_flagged: Option<bool>,
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    page_size: Option<u32>,
    /// `nextPageToken` of the previous page; the other parameters unchanged.
    page_token: Option<String>,
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<User>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// List and search users.
#[utoipa::path(get, path = "/v1/users", tag = "users", operation_id = "queryUsers",
    params(QueryUsersParams),
    responses((status = 200, description = "One page of users.", body = UserPage)))]
async fn query_users(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<QueryUsersParams>,
) -> ApiResult<Json<UserPage>> {
    let sort = match params.sort {
        None => pb::UserSort::Unspecified,
        Some(UserSort::DisplayName) => pb::UserSort::DisplayName,
        Some(UserSort::FirstCreated) => pb::UserSort::FirstCreated,
        Some(UserSort::LastCreated) => pb::UserSort::LastCreated,
    };
    let request = pb::QueryUsersRequest {
        keyword: params.keyword.unwrap_or_default(),
        sort: sort.into(),
        filter: Some(pb::UserFilter {
            r#type: params.user_type.map(|t| t.to_proto().into()),
            is_guest: params.is_guest,
            is_deleted: params.is_deleted,
            is_global_banned: params.is_global_banned,
            is_flagged: params.is_flagged,
        }),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let rights = app.rights(&call).await;
    let page = app
        .users()
        .query_users(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UserPage {
        users: page
            .users
            .into_iter()
            .map(|u| User::from_proto(u, &app.hrefs).with_rights(&rights, &app.hrefs))
            .collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Up to 100 users by id and/or name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchGetUsers {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(default)]
    pub names: Vec<String>,
}

/// The answer for one requested id or name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetUsersResult {
    /// The id asked for, for an id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The name asked for, for a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absent when not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub not_found: bool,
}

/// The users asked for, one result per entry (ids first, then names).
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchGetUsersResponse {
    pub results: Vec<BatchGetUsersResult>,
}

/// Read many users at once (POST, as names may hold any character).
#[utoipa::path(post, path = "/v1/users:batchGet", tag = "users", operation_id = "batchGetUsers",
    request_body = BatchGetUsers,
    responses((status = 200, description = "One result per requested id or name.", body = BatchGetUsersResponse)))]
async fn batch_get_users(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<BatchGetUsers>,
) -> ApiResult<Json<BatchGetUsersResponse>> {
    let request = pb::BatchGetUsersRequest {
        ids: body.ids,
        names: body.names,
    };
    let rights = app.rights(&call).await;
    let response = app
        .users()
        .batch_get_users(call.request(request))
        .await?
        .into_inner();
    let results = response
        .results
        .into_iter()
        .map(|result| {
            let requested = result.requested.and_then(|r| r.r#ref);
            BatchGetUsersResult {
                id: match &requested {
                    Some(pb::user_ref::Ref::Id(id)) => Some(*id),
                    _ => None,
                },
                name: match requested {
                    Some(pb::user_ref::Ref::Name(name)) => Some(name),
                    _ => None,
                },
                user: result
                    .user
                    .map(|u| User::from_proto(u, &app.hrefs).with_rights(&rights, &app.hrefs)),
                not_found: result.not_found,
            }
        })
        .collect();
    Ok(Json(BatchGetUsersResponse { results }))
}

/// A user as `call`'s caller sees it: with the moderation links it may follow.
async fn view(app: &App, call: &Call, user: pb::User) -> User {
    let rights = app.rights(call).await;
    User::from_proto(user, &app.hrefs).with_rights(&rights, &app.hrefs)
}

async fn read(app: &App, call: &Call, user: pb::get_user_request::User) -> ApiResult<Response> {
    let request = pb::GetUserRequest { user: Some(user) };
    let user = app
        .users()
        .get_user(call.request(request))
        .await?
        .into_inner();
    Ok(tagged(
        StatusCode::OK,
        user.version,
        Json(view(app, call, user).await),
    ))
}

/// Read a user by id (`me`: the caller's own user).
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", operation_id = "getUser",
    params(("id" = String, Path, description = "A user id (`/v1/users/me` is the caller's own).", pattern = r"^[1-9][0-9]{0,17}$")),
    responses((status = 200, description = "The user.", body = User,
        headers(("ETag" = String, description = "The user's version, for `If-Match`.")))))]
async fn get_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Response> {
    let id = user_id(&call, &id)?;
    read(&app, &call, pb::get_user_request::User::Id(id)).await
}

/// Read the current user: the user of the session token.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", operation_id = "getCurrentUser",
    responses((status = 200, description = "The caller's user.", body = User,
        headers(("ETag" = String, description = "The user's version, for `If-Match`.")))))]
async fn get_current_user(State(app): State<App>, call: Call) -> ApiResult<Response> {
    let id = call.me()?;
    read(&app, &call, pb::get_user_request::User::Id(id)).await
}

/// Read a user by its unique name.
#[utoipa::path(get, path = "/v1/users/by-name/{name}", tag = "users", operation_id = "getUserByName",
    params(("name" = String, Path, description = "The user's unique name.")),
    responses((status = 200, description = "The user.", body = User,
        headers(("ETag" = String, description = "The user's version, for `If-Match`.")))))]
async fn get_user_by_name(
    State(app): State<App>,
    call: Call,
    Params(name): Params<String>,
) -> ApiResult<Response> {
    read(&app, &call, pb::get_user_request::User::Name(name)).await
}

/// A JSON merge patch of a user's profile: each member given is changed, a
/// member given as `null` is cleared (`description`, `avatar`), and
/// `properties` is merged one level deep (a key given as `null` is removed).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    /// 1–100 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub display_name: Option<Option<String>>,
    /// At most 1000 characters; null or "" clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// An uploaded avatar file or an external picture; null removes the avatar.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Avatar>)]
    pub avatar: Option<Option<Avatar>>,
    /// Keys to merge into the user's properties; a key given as null is removed.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Option<JsonObject>,
    #[serde(default, rename = "type")]
    pub user_type: Option<UserType>,
}

/// Tells a member given as `null` (`Some(None)`) from a missing one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl UserPatch {
    /// The update mask and the new values.
    fn into_proto(self) -> (Vec<String>, pb::UserPatch) {
        let mut mask = Vec::new();
        let mut patch = pb::UserPatch::default();
        if let Some(display_name) = self.display_name {
            mask.push("display_name".to_owned());
            // null is not a display name; the service says so, naming the field.
            patch.display_name = display_name.unwrap_or_default();
        }
        if let Some(description) = self.description {
            mask.push("description".to_owned());
            patch.description = description.unwrap_or_default();
        }
        if let Some(avatar) = self.avatar {
            mask.push("avatar".to_owned());
            patch.avatar = avatar.map(Avatar::to_proto);
        }
        if let Some(properties) = self.properties {
            mask.push("properties".to_owned());
            patch.properties = Some(struct_from_json(&properties));
        }
        if let Some(user_type) = self.user_type {
            mask.push("type".to_owned());
            patch.r#type = user_type.to_proto().into();
        }
        (mask, patch)
    }
}

/// Applies a merge patch to user `id`, guarded by `If-Match`.
pub async fn patch_user(
    app: &App,
    call: &Call,
    id: i64,
    headers: &HeaderMap,
    patch: UserPatch,
) -> ApiResult<Response> {
    let expected_version = if_match(headers)?;
    let (paths, patch) = patch.into_proto();
    let request = pb::UpdateUserRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
        update_mask: Some(prost_types::FieldMask { paths }),
        patch: Some(patch),
        expected_version,
    };
    let user = app
        .users()
        .update_user(call.request(request))
        .await
        .map_err(|status| crate::error::ApiError::from(status).strip_field_prefix("patch."))?
        .into_inner();
    Ok(tagged(
        StatusCode::OK,
        user.version,
        Json(view(app, call, user).await),
    ))
}

/// Change a user's profile (JSON merge patch; `If-Match` guards against lost updates).
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", operation_id = "updateUser",
    params(("id" = String, Path, description = "A user id (`/v1/users/me` is the caller's own).", pattern = r"^[1-9][0-9]{0,17}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag (version) the change applies to; 412 when it moved.")),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The changed user.", body = User,
        headers(("ETag" = String, description = "The new version.")))))]
async fn update_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<UserPatch>,
) -> ApiResult<Response> {
    let id = user_id(&call, &id)?;
    patch_user(&app, &call, id, &headers, patch).await
}

/// Change the current user's profile (JSON merge patch).
#[utoipa::path(patch, path = "/v1/users/me", tag = "users", operation_id = "updateCurrentUser",
    params(("If-Match" = Option<String>, Header, description = "The ETag (version) the change applies to; 412 when it moved.")),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The changed user.", body = User,
        headers(("ETag" = String, description = "The new version.")))))]
async fn update_current_user(
    State(app): State<App>,
    call: Call,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<UserPatch>,
) -> ApiResult<Response> {
    let id = call.me()?;
    patch_user(&app, &call, id, &headers, patch).await
}
