//! The moderation service over real gRPC, on SQLite and PostgreSQL, together
//! with the services it moderates (users, roles, files) and a product's
//! deletion participant. Nothing waits on a timer: a test waits for the event
//! that a change was made or applied (a deadline only turns a hang into a
//! failure).

mod audit;
mod bans;
mod deletion;
mod events;
mod flags;
mod origin;
pub mod participant;
mod races;

use std::time::Duration;

use futures::StreamExt;
use roster_kit::auth::BearerToken;
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient,
    moderation_service_client::ModerationServiceClient, role_service_client::RoleServiceClient,
};
use tonic::{Streaming, service::interceptor::InterceptedService, transport::Channel};

use crate::helpers::TestApp;

pub type Moderation = ModerationServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Roles = RoleServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Files = FileServiceClient<InterceptedService<Channel, BearerToken>>;

/// Upper bound on waiting for something that must happen; only a bug hits it.
const DEADLINE: Duration = Duration::from_secs(30);

pub fn bearer(token: &str) -> BearerToken {
    BearerToken::new(token).unwrap_or_else(|e| panic!("{e}"))
}

/// A session token of `user` (generation 0, as for a never-revoked user).
pub fn session_of(app: &TestApp, user: &pb::User) -> String {
    app.keys
        .issue_user(user.id, 0, Duration::from_secs(3600))
        .unwrap_or_else(|e| panic!("{e}"))
        .token
}

pub fn moderation_with(channel: Channel, token: &str) -> Moderation {
    ModerationServiceClient::with_interceptor(channel, bearer(token))
}

pub async fn moderation_admin(app: &TestApp) -> Moderation {
    moderation_with(app.channel().await, &app.admin_token())
}

pub async fn moderation_as(app: &TestApp, user: &pb::User) -> Moderation {
    moderation_with(app.channel().await, &session_of(app, user))
}

pub async fn roles_admin(app: &TestApp) -> Roles {
    RoleServiceClient::with_interceptor(app.channel().await, bearer(&app.admin_token()))
}

pub async fn files_admin(app: &TestApp) -> Files {
    FileServiceClient::with_interceptor(app.channel().await, bearer(&app.admin_token()))
}

pub fn network() -> Option<pb::Scope> {
    Some(pb::Scope {
        scope: Some(pb::scope::Scope::Network(pb::NetworkScope {})),
    })
}

/// A custom role holding `permissions`.
pub async fn create_role(roles: &mut Roles, name: &str, permissions: &[&str]) {
    roles
        .create_role(pb::CreateRoleRequest {
            name: name.into(),
            description: format!("{name} (tests)"),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        })
        .await
        .unwrap_or_else(|s| panic!("creating {name}: {s:?}"));
}

/// Grants `role` network-wide and waits until the user service applied it
/// (on SQLite the tests' services share one file, whose writers then take
/// turns). Permission checks of the moderation service ask the role service
/// for answers they have not cached, so a grant made before a user's first
/// call there counts at once.
pub async fn grant(app: &TestApp, roles: &mut Roles, user: &pb::User, role: &str) {
    grant_in(app, roles, user, role, network()).await;
}

/// Grants `role` in `scope`, as [`grant`] does.
pub async fn grant_in(
    app: &TestApp,
    roles: &mut Roles,
    user: &pb::User,
    role: &str,
    scope: Option<pb::Scope>,
) {
    let cursor = roles
        .grant_role(pb::GrantRoleRequest {
            user_id: user.id,
            role: role.into(),
            scope,
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("granting {role}: {s:?}"))
        .into_inner()
        .event_cursor;
    tokio::time::timeout(DEADLINE, app.users.role_sync.wait_until_applied(&cursor))
        .await
        .unwrap_or_else(|_| panic!("role event {cursor} was never applied"))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until the user service reflects the moderation event at `cursor`
/// (a response's `event_cursor`).
pub async fn applied(app: &TestApp, cursor: &str) {
    tokio::time::timeout(
        DEADLINE,
        app.users.moderation_sync.wait_until_applied(cursor),
    )
    .await
    .unwrap_or_else(|_| panic!("moderation event {cursor} was never applied"))
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The next message of a stream that must deliver one.
pub async fn next<T: std::fmt::Debug>(stream: &mut Streaming<T>) -> T {
    match tokio::time::timeout(DEADLINE, stream.next()).await {
        Ok(Some(Ok(message))) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

pub fn cursor_of(meta: Option<&pb::EventMeta>) -> String {
    meta.map(|m| m.cursor.clone()).unwrap_or_default()
}

/// The moderation events after `after` (empty: from the beginning).
pub async fn watch(moderation: &mut Moderation, after: &str) -> Streaming<pb::ModerationEvent> {
    moderation
        .watch_moderation_events(pb::WatchModerationEventsRequest {
            after_cursor: after.into(),
            from_now: false,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
}

/// Follows the moderation events until deletion job `job_id` completes;
/// returns every event read, USER_DELETED last.
pub async fn until_deleted(
    events: &mut Streaming<pb::ModerationEvent>,
    job_id: i64,
) -> Vec<pb::ModerationEvent> {
    let mut seen = Vec::new();
    loop {
        let event = next(events).await;
        let done =
            event.kind() == pb::ModerationEventKind::UserDeleted && event.deletion_job_id == job_id;
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// Starts deleting `user` (as an admin) and waits for the job to complete;
/// returns the job as DeleteUser answered it and the USER_DELETED event.
pub async fn delete_and_wait(
    app: &TestApp,
    user_id: i64,
    options: pb::DeletionOptions,
) -> (pb::DeletionJob, pb::ModerationEvent) {
    let mut admin = moderation_admin(app).await;
    let mut events = watch(&mut admin, "").await;
    let job = admin
        .delete_user(pb::DeleteUserRequest {
            user_id,
            options: Some(options),
            dry_run: false,
            reason: "requested by the user".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("deleting {user_id}: {s:?}"))
        .into_inner()
        .job
        .unwrap_or_else(|| panic!("DeleteUser answered no job"));
    let deleted = until_deleted(&mut events, job.id)
        .await
        .pop()
        .unwrap_or_else(|| unreachable!());
    (job, deleted)
}

pub async fn get_user(app: &TestApp, id: i64) -> pb::User {
    app.admin()
        .await
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(id)),
        })
        .await
        .unwrap_or_else(|s| panic!("reading user {id}: {s:?}"))
        .into_inner()
}

pub fn flag_request(user_id: i64, reason: pb::FlagReason, note: &str) -> pb::FlagUserRequest {
    pb::FlagUserRequest {
        user_id,
        reason: reason.into(),
        note: note.into(),
    }
}

pub async fn flag(moderation: &mut Moderation, user_id: i64) -> pb::FlagUserResponse {
    moderation
        .flag_user(flag_request(user_id, pb::FlagReason::Spam, ""))
        .await
        .unwrap_or_else(|s| panic!("flagging {user_id}: {s:?}"))
        .into_inner()
}

pub fn ban_request(user_id: i64, reason: &str) -> pb::BanUserRequest {
    pb::BanUserRequest {
        user_id,
        reason: reason.into(),
        expires_at: None,
    }
}

pub fn list_flags(user_id: i64) -> pb::ListFlagsRequest {
    pb::ListFlagsRequest {
        user_id,
        page_size: 100,
        page_token: String::new(),
    }
}
