//! Replicas on one PostgreSQL database learn of each other's changes from the
//! outbox notifications, not from their poll: every test configures the poll
//! an hour apart, so only a notification can make it pass within its deadline.

use std::{future::Future, time::Duration};

use roster::{RosterSettings, Service};
use roster_kit::{auth::BearerToken, testing::Backend};
use roster_proto::v1::{self as pb, file_service_client::FileServiceClient};
use tonic::{Code, Status, transport::Channel};

use crate::helpers::{Apart, TestApp, assert_refused, create, expect_err};
use crate::moderation::{
    applied, ban_request, create_role, grant, moderation_admin, moderation_as, network, roles_admin,
};

/// Upper bound on a change reaching the other replica; only a bug hits it.
const DEADLINE: Duration = Duration::from_secs(20);

/// Between two looks at the other replica (not a synchronisation: the test
/// passes on the observed answer, whenever it comes).
const RETRY: Duration = Duration::from_millis(5);

fn poll_hourly(settings: &mut RosterSettings) {
    settings.common.event_poll_interval_ms = 3_600_000;
}

/// Two replicas of the suite on one fresh PostgreSQL database.
async fn two_replicas() -> (TestApp, TestApp) {
    let first = TestApp::spawn_configured(Backend::Postgres, poll_hourly).await;
    let second = TestApp::spawn_on_configured(&first.database_url, poll_hourly).await;
    (first, second)
}

/// Asks `call` until it fails, within [`DEADLINE`]; returns the failure.
async fn until_refused<F, Fut, T>(what: &str, mut call: F) -> Status
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Err(status) = call().await {
                return status;
            }
            tokio::time::sleep(RETRY).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the other replica kept accepting {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_one_replica_is_refused_by_the_other() {
    let (first, second) = two_replicas().await;
    let mut admin = first.admin().await;
    let issued = admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "jane".into(),
            display_name: "Jane".into(),
            ttl_seconds: 600,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let jane = issued.user.unwrap_or_default();
    let me = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    // The second replica accepts (and caches) jane's session.
    let mut on_second = second.client(&issued.access_token).await;
    on_second
        .get_user(me.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    admin
        .revoke_user_tokens(pb::RevokeUserTokensRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(jane.id)),
            }),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = until_refused("a revoked session", || {
        let mut on_second = on_second.clone();
        let me = me.clone();
        async move { on_second.get_user(me).await }
    })
    .await;
    assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_files_process_drops_its_cached_session_at_once() {
    let (first, second) = two_replicas().await;
    // Files apart from the users service, trusting a valid session for an
    // hour unless the user event stream says otherwise; it asks the second
    // replica while the revoke happens on the first.
    let files = Apart::spawn_with(&second, &[Service::Files], |settings| {
        poll_hourly(settings);
        settings.common.endpoints.roles = second.address.clone();
        settings.common.auth.session_cache_ms = 3_600_000;
    })
    .await;
    let mut admin = first.admin().await;
    let issued = admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "jane".into(),
            display_name: "Jane".into(),
            ttl_seconds: 600,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let channel = Channel::from_shared(files.address.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let as_jane = FileServiceClient::with_interceptor(
        channel,
        BearerToken::new(&issued.access_token).unwrap_or_else(|e| panic!("{e}")),
    );
    let list = pb::ListFilesRequest::default();
    // Accepted, and cached once the process follows the user events.
    until_accepted(|| {
        let mut as_jane = as_jane.clone();
        let list = list.clone();
        async move { as_jane.list_files(list).await }
    })
    .await;

    admin
        .revoke_user_tokens(pb::RevokeUserTokensRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(issued.user.unwrap_or_default().id)),
            }),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let status = until_refused("a revoked session", || {
        let mut as_jane = as_jane.clone();
        let list = list.clone();
        async move { as_jane.list_files(list).await }
    })
    .await;
    assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");
}

/// Asks `call` until it succeeds, within [`DEADLINE`].
async fn until_accepted<F, Fut, T>(mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    tokio::time::timeout(DEADLINE, async {
        while let Err(status) = call().await {
            tracing::debug!(error = %status, "not accepted yet");
            tokio::time::sleep(RETRY).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never accepted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_on_one_replica_no_longer_counts_on_the_other() {
    let (first, second) = two_replicas().await;
    let mut admin = first.admin().await;
    let mut roles = roles_admin(&first).await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let moderator = create(&mut admin, "moderator", "Moderator").await;
    create_role(&mut roles, "banner", &["BAN_USER"]).await;
    grant(&first, &mut roles, &moderator, "banner").await;
    // The second replica allows (and caches) the moderator's BAN_USER, both in
    // its role service and in its moderation service's permission checker.
    let mut second_roles = roles_admin(&second).await;
    let check = pb::CheckPermissionRequest {
        user_id: moderator.id,
        permission: "BAN_USER".into(),
        scope: network(),
    };
    let allowed = second_roles
        .check_permission(check.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(allowed.allowed);
    let mut as_moderator = moderation_as(&second, &moderator).await;
    let get_ban = pb::GetBanRequest { user_id: jane.id };
    let unbanned = expect_err(as_moderator.get_ban(get_ban).await);
    assert_refused(&unbanned, Code::NotFound, "BAN_NOT_FOUND");

    roles
        .revoke_role(pb::RevokeRoleRequest {
            user_id: moderator.id,
            role: "banner".into(),
            scope: network(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let denied = until_refused("a revoked grant", || {
        let mut second_roles = second_roles.clone();
        let check = check.clone();
        async move {
            let answer = second_roles.check_permission(check).await?.into_inner();
            if answer.allowed {
                Ok(())
            } else {
                Err(Status::permission_denied("denied"))
            }
        }
    })
    .await;
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let status = until_refused("a revoked grant", || {
        let mut as_moderator = as_moderator.clone();
        async move {
            match as_moderator.get_ban(get_ban).await {
                Err(status) if status.code() == Code::NotFound => Ok(()),
                Err(status) => Err(status),
                Ok(_) => Ok(()),
            }
        }
    })
    .await;
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_placed_on_one_replica_is_enforced_by_the_other() {
    let (first, second) = two_replicas().await;
    let mut admin = first.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let me = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    let mut as_jane = second.as_user(&jane).await;
    as_jane
        .get_user(me.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    let banned = moderation_admin(&first)
        .await
        .ban_user(ban_request(jane.id, "spam"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    applied(&first, &banned.event_cursor).await;
    let status = until_refused("a banned user's session", || {
        let mut as_jane = as_jane.clone();
        let me = me.clone();
        async move { as_jane.get_user(me).await }
    })
    .await;
    assert_refused(&status, Code::PermissionDenied, "USER_BANNED");
}

/// Presence is not kept in the outbox: a change on one replica reaches the
/// other's watchers live, through its notification, and the other replica's
/// cached user shows it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_change_on_one_replica_reaches_the_others_watchers_and_reads() {
    use futures::StreamExt;
    let (first, second) = two_replicas().await;
    let mut admin = first.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let mut second_admin = second.admin().await;
    let by_id = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    // The second replica caches jane as she is now.
    let before = second_admin
        .get_user(by_id.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(before.presence.map(|p| p.online), Some(false));
    let mut watching = second_admin
        .watch_user_events(pb::WatchUserEventsRequest {
            from_now: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();

    first
        .as_user(&jane)
        .await
        .set_presence(pb::SetPresenceRequest {
            status: Some("AWAY".into()),
            online: Some(true),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let event = tokio::time::timeout(DEADLINE, watching.next())
        .await
        .unwrap_or_else(|_| panic!("the other replica's watcher never saw the change"))
        .unwrap_or_else(|| panic!("the stream ended"))
        .unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!(event.kind(), pb::UserEventKind::PresenceChanged);
    let meta = event.meta.clone().unwrap_or_default();
    assert!(meta.live);
    assert_eq!(
        meta.actor,
        format!("user:{}", jane.id),
        "the origin crosses too"
    );
    assert_eq!(
        event.user.and_then(|u| u.presence),
        Some(pb::Presence {
            status: "AWAY".into(),
            online: true
        })
    );
    // The watcher saw it after the replica refreshed its cache.
    let after = second_admin
        .get_user(by_id)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(after.presence.map(|p| p.online), Some(true));
}
