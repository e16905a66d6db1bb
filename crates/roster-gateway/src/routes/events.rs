//! Live updates as server-sent events:
//! * `/v1/users/me/events`: the caller's own user as it changes (the seeds'
//!   "observe the current user"): a `snapshot` first, then each change;
//! * `/v1/presence?ids=…`: presence changes of up to 100 users;
//! * `/v1/events/users`, `/v1/events/roles`: every user or role change, for
//!   admin (and service) callers only, as the services' watch streams are.
//!
//! A user sees only what it may read: its own changes, and the presence of
//! users it may read (any user, for a signed-in caller); each stream is
//! authorised by a call with the caller's own token before it starts, and the
//! current user's stream ends with the event that ends its session (tokens
//! revoked, banned, deleted). Events after a fresh stream's snapshot may repeat
//! changes the snapshot shows already; applied in order they end in the
//! current state.

use std::collections::HashSet;

use axum::{
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use http::HeaderMap;
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::App,
    call::Call,
    error::{ApiError, ApiResult},
    events::{self, Pass, SseStream, from_hub, from_watch, last_event_id},
    extract::QueryParams,
    views::{
        Hrefs,
        roles::RoleEvent,
        users::{PresenceEvent, User, UserEvent, UserPresence},
    },
};

/// Most users one presence stream follows.
const MAX_PRESENCE_USERS: usize = 100;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(my_events))
        .routes(routes!(presence_events))
        .routes(routes!(user_events))
        .routes(routes!(role_events))
}

pub type Events = Response;

/// An SSE answer that ends when the gateway shuts down.
pub fn sse(app: &App, stream: SseStream) -> Events {
    let stop = app.stop.clone().cancelled_owned();
    Sse::new(stream.take_until(stop).boxed())
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn user_event(hrefs: &Hrefs, event: &pb::UserEvent) -> Event {
    let view = UserEvent::from_proto(event.clone(), hrefs);
    let name = view.kind.name();
    let id = sse_id(event, &view.cursor);
    events::event(name, id, &view)
}

/// The SSE `id` of `event`: its cursor, unless it is live (never replayed,
/// so nothing to resume from).
fn sse_id<'a>(event: &pb::UserEvent, cursor: &'a str) -> Option<&'a str> {
    let live = event.meta.as_ref().is_some_and(|meta| meta.live);
    (!live).then_some(cursor)
}

/// Follows the hub from `after` (a resumed stream) or from now; falls back to
/// the user service's own replay when the hub no longer holds `after`. The
/// events `keep` selects are rendered by `render`. Also says where a fresh
/// stream starts: the id its snapshot carries.
async fn follow_users<K, R>(
    app: &App,
    after: Option<i64>,
    keep: K,
    render: R,
) -> ApiResult<(SseStream, Option<String>)>
where
    K: Fn(&pb::UserEvent) -> Pass + Send + Sync + 'static,
    R: Fn(&pb::UserEvent) -> Event + Send + Sync + 'static,
{
    let subscription = match after {
        None => Some(app.user_events.subscribe()),
        Some(after) => app.user_events.resume(after),
    };
    if let Some(subscription) = subscription {
        let position = subscription.position.map(|p| p.to_string());
        let stream = from_hub(
            subscription,
            move |stamped| keep(&stamped.event),
            move |stamped| render(&stamped.event),
        );
        return Ok((stream, position));
    }
    let request = pb::WatchUserEventsRequest {
        after_cursor: after.map(|c| c.to_string()).unwrap_or_default(),
        from_now: false,
    };
    let stream = app
        .users_as_gateway
        .clone()
        .watch_user_events(request)
        .await?
        .into_inner();
    Ok((from_watch(stream, keep, move |event| render(&event)), None))
}

/// The caller's own user as it changes: `snapshot` (the user now), then one
/// event per change (`updated`, `presence`, `tokens-revoked`, `banned`,
/// `unbanned`, `deleted`, `flag-count`), each with the
/// user right after it. Reconnect with `Last-Event-ID` to resume.
#[utoipa::path(get, path = "/v1/users/me/events", tag = "events", operation_id = "watchCurrentUser",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event.")),
    responses((status = 200, description = "A stream of `snapshot` and change events; data: a UserEvent (the snapshot: a User).",
        content_type = "text/event-stream", body = UserEvent)))]
async fn my_events(State(app): State<App>, call: Call, headers: HeaderMap) -> ApiResult<Events> {
    let me = call.me()?;
    let after = last_event_id(&headers)?;
    // Reading itself with its own token authorises the stream (a live session).
    let request = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(me)),
    };
    let user = app
        .users()
        .get_user(call.request(request))
        .await?
        .into_inner();
    let since = user.version;
    let fresh = after.is_none();
    let hrefs = app.hrefs.clone();
    let (changes, position) = follow_users(
        &app,
        after,
        move |event| {
            let mine = event.user.as_ref().is_some_and(|u| {
                u.id == me
                    // Older profile states than the snapshot shows are history.
                    && (!fresh || u.version >= since)
            });
            match pb::UserEventKind::try_from(event.kind) {
                // The session this stream was opened with no longer counts.
                Ok(
                    pb::UserEventKind::TokensRevoked
                    | pb::UserEventKind::Banned
                    | pb::UserEventKind::Deleted,
                ) if mine => Pass::Last,
                _ => Pass::from(mine),
            }
        },
        move |event| user_event(&hrefs, event),
    )
    .await?;
    if !fresh {
        return Ok(sse(&app, changes));
    }
    let user = User::from_proto(user, &app.hrefs);
    let snapshot = events::event("snapshot", position.as_deref(), &user);
    Ok(sse(&app, events::once(snapshot).chain(changes).boxed()))
}

/// Whose presence to follow.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceParams {
    /// Up to 100 user ids, comma-separated: `ids=1,2,3`.
    ids: String,
}

/// The presence of the followed users when the stream starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceSnapshot {
    pub presences: Vec<UserPresence>,
}

/// Presence changes of up to 100 users: `snapshot` (their presence now), then
/// a `presence` event per change. Reconnect with `Last-Event-ID` to resume.
#[utoipa::path(get, path = "/v1/presence", tag = "events", operation_id = "watchPresence",
    params(PresenceParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event.")),
    responses((status = 200, description = "A stream of `snapshot` (PresenceSnapshot) and `presence` (PresenceEvent) events.",
        content_type = "text/event-stream", body = PresenceEvent)))]
async fn presence_events(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<PresenceParams>,
    headers: HeaderMap,
) -> ApiResult<Events> {
    let ids = params
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().ok().filter(|id| *id > 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::invalid_field("ids", "is a comma-separated list of user ids"))?;
    if ids.is_empty() || ids.len() > MAX_PRESENCE_USERS {
        return Err(ApiError::invalid_field(
            "ids",
            format!("names 1 to {MAX_PRESENCE_USERS} users"),
        ));
    }
    let after = last_event_id(&headers)?;
    // Reading the users with the caller's token authorises the stream.
    let request = pb::BatchGetUsersRequest {
        ids: ids.clone(),
        names: Vec::new(),
    };
    let users = app
        .users()
        .batch_get_users(call.request(request))
        .await?
        .into_inner();
    let followed: HashSet<i64> = ids.into_iter().collect();
    let (changes, position) = follow_users(
        &app,
        after,
        move |event| {
            Pass::from(
                event.kind == i32::from(pb::UserEventKind::PresenceChanged)
                    && event
                        .user
                        .as_ref()
                        .is_some_and(|u| followed.contains(&u.id)),
            )
        },
        presence_event,
    )
    .await?;
    if after.is_some() {
        return Ok(sse(&app, changes));
    }
    let presences = users
        .results
        .iter()
        .filter_map(|result| result.user.as_ref().map(UserPresence::from))
        .collect();
    let snapshot = events::event(
        "snapshot",
        position.as_deref(),
        &PresenceSnapshot { presences },
    );
    Ok(sse(&app, events::once(snapshot).chain(changes).boxed()))
}

/// A presence change of the hub as a `presence` event.
fn presence_event(event: &pb::UserEvent) -> Event {
    let meta = event.meta.clone().unwrap_or_default();
    let user = event.user.clone().unwrap_or_default();
    let view = PresenceEvent {
        cursor: meta.cursor,
        occurred_at: crate::views::time(meta.occurred_at),
        presence: UserPresence::from(&user),
    };
    events::event("presence", sse_id(event, &view.cursor), &view)
}

/// Every user change, as the user service's `WatchUserEvents` streams it (admins).
#[utoipa::path(get, path = "/v1/events/users", tag = "events", operation_id = "watchUserEvents",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event; none: from the beginning.")),
    responses((status = 200, description = "A stream of user events (data: UserEvent).",
        content_type = "text/event-stream", body = UserEvent)))]
async fn user_events(State(app): State<App>, call: Call, headers: HeaderMap) -> ApiResult<Events> {
    let after = last_event_id(&headers)?;
    let request = pb::WatchUserEventsRequest {
        after_cursor: after.map(|c| c.to_string()).unwrap_or_default(),
        from_now: false,
    };
    let stream = app
        .users()
        .watch_user_events(call.request(request))
        .await?
        .into_inner();
    let hrefs = app.hrefs.clone();
    Ok(sse(
        &app,
        from_watch(
            stream,
            |_| Pass::Send,
            move |event| user_event(&hrefs, &event),
        ),
    ))
}

/// Every role and grant change, as the role service's `WatchRoleEvents` streams it (admins).
#[utoipa::path(get, path = "/v1/events/roles", tag = "events", operation_id = "watchRoleEvents",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event; none: from the beginning.")),
    responses((status = 200, description = "A stream of role events (data: RoleEvent).",
        content_type = "text/event-stream", body = RoleEvent)))]
async fn role_events(State(app): State<App>, call: Call, headers: HeaderMap) -> ApiResult<Events> {
    let after = last_event_id(&headers)?;
    let request = pb::WatchRoleEventsRequest {
        after_cursor: after.map(|c| c.to_string()).unwrap_or_default(),
        from_now: false,
    };
    let stream = app
        .roles()
        .watch_role_events(call.request(request))
        .await?
        .into_inner();
    Ok(sse(
        &app,
        from_watch(
            stream,
            |_| Pass::Send,
            |event| {
                let view = RoleEvent::from(event);
                let id = view.cursor.clone();
                events::event(view.kind.name(), Some(&id), &view)
            },
        ),
    ))
}
