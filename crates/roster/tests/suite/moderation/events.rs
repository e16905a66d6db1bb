//! WatchModerationEvents, and the moderation changes on the user service's own
//! stream.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use super::{
    applied, ban_request, cursor_of, delete_and_wait, flag, moderation_admin, moderation_as, next,
    watch,
};
use crate::helpers::{TestApp, assert_refused, create};
use crate::on_both_backends;

on_both_backends!(
    moderation_events_replay_in_order_resume_after_a_cursor_and_follow,
    only_admins_and_services_watch_and_cursors_are_checked,
    the_user_stream_shows_flagged_banned_unbanned_and_deleted_users,
    a_moderation_watch_from_now_skips_history,
);

async fn moderation_events_replay_in_order_resume_after_a_cursor_and_follow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let mut as_bob = moderation_as(&app, &bob).await;
    let mut moderation = moderation_admin(&app).await;

    let flagged = flag(&mut as_bob, jane.id).await.event_cursor;
    let unflagged = as_bob
        .unflag_user(pb::UnflagUserRequest { user_id: jane.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;
    let banned = moderation
        .ban_user(ban_request(jane.id, "spam"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;
    let unbanned = moderation
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;

    let mut all = watch(&mut moderation, "").await;
    let mut replayed = Vec::new();
    for _ in 0..4 {
        replayed.push(next(&mut all).await);
    }
    let summary: Vec<_> = replayed
        .iter()
        .map(|e| {
            (
                cursor_of(e.meta.as_ref()),
                e.kind(),
                e.user_id,
                e.actor.clone(),
                e.flag_count,
            )
        })
        .collect();
    use pb::ModerationEventKind as E;
    let by_bob = format!("user:{}", bob.id);
    let by_admin = "admin:tests".to_owned();
    assert_eq!(
        summary,
        [
            (flagged, E::UserFlagged, jane.id, by_bob.clone(), 1),
            (unflagged.clone(), E::UserUnflagged, jane.id, by_bob, 0),
            (banned.clone(), E::UserBanned, jane.id, by_admin.clone(), 0),
            (unbanned.clone(), E::UserUnbanned, jane.id, by_admin, 0),
        ]
    );
    assert_eq!(
        replayed[0].flag.as_ref().map(|f| f.flagger_user_id),
        Some(bob.id)
    );
    assert_eq!(
        replayed[2]
            .ban
            .as_ref()
            .map(|b| (b.user_id, b.reason.as_str())),
        Some((jane.id, "spam"))
    );
    assert!(
        replayed
            .iter()
            .all(|e| e.meta.as_ref().is_some_and(|m| m.occurred_at.is_some()))
    );

    // Resuming after a cursor starts right after it…
    let mut resumed = watch(&mut moderation, &unflagged).await;
    let first = next(&mut resumed).await;
    assert_eq!(
        (cursor_of(first.meta.as_ref()), first.kind()),
        (banned, E::UserBanned)
    );
    let second = next(&mut resumed).await;
    assert_eq!(cursor_of(second.meta.as_ref()), unbanned);
    // …and then follows new changes as they commit.
    let live = flag(&mut as_bob, jane.id).await.event_cursor;
    let arrived = next(&mut resumed).await;
    assert_eq!(
        (cursor_of(arrived.meta.as_ref()), arrived.kind()),
        (live.clone(), E::UserFlagged)
    );
    let on_the_first = next(&mut all).await;
    assert_eq!(cursor_of(on_the_first.meta.as_ref()), live);
}

async fn only_admins_and_services_watch_and_cursors_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jane = create(&mut app.admin().await, "jane", "Jane").await;
    let refused = match moderation_as(&app, &jane)
        .await
        .watch_moderation_events(pb::WatchModerationEventsRequest::default())
        .await
    {
        Ok(_) => panic!("a user watched every moderation change"),
        Err(status) => status,
    };
    assert_refused(&refused, Code::PermissionDenied, "PERMISSION_DENIED");
    for cursor in ["yesterday", "-1", "1.5"] {
        let status = match moderation_admin(&app)
            .await
            .watch_moderation_events(pb::WatchModerationEventsRequest {
                after_cursor: cursor.into(),
                from_now: false,
            })
            .await
        {
            Ok(_) => panic!("the cursor {cursor:?} was accepted"),
            Err(status) => status,
        };
        assert_refused(&status, Code::InvalidArgument, "CURSOR_INVALID");
    }
}

async fn the_user_stream_shows_flagged_banned_unbanned_and_deleted_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let mut users = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut moderation = moderation_admin(&app).await;

    // Each change is applied before the next, so the stream's order is theirs.
    let flagged = flag(&mut moderation_as(&app, &bob).await, jane.id).await;
    applied(&app, &flagged.event_cursor).await;
    let banned = moderation
        .ban_user(ban_request(jane.id, "spam"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    applied(&app, &banned.event_cursor).await;
    let unbanned = moderation
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    applied(&app, &unbanned.event_cursor).await;
    delete_and_wait(&app, jane.id, pb::DeletionOptions::default()).await;

    use pb::UserEventKind as U;
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let event = next(&mut users).await;
        let user = event.user.clone().unwrap_or_default();
        if user.id == jane.id {
            seen.push((
                event.kind(),
                user.flag_count,
                user.is_global_banned,
                user.is_deleted,
                user.display_name,
            ));
        }
    }
    let jane_ =
        |kind, flags, banned, deleted, name: &str| (kind, flags, banned, deleted, name.to_owned());
    assert_eq!(
        seen,
        [
            jane_(U::Created, 0, false, false, "Jane"),
            jane_(U::FlagCountChanged, 1, false, false, "Jane"),
            jane_(U::Banned, 1, true, false, "Jane"),
            jane_(U::Unbanned, 1, false, false, "Jane"),
            jane_(U::Deleted, 1, false, true, "Deleted User"),
            // The deletion removed the flags against her.
            jane_(U::FlagCountChanged, 0, false, true, "Deleted User"),
        ]
    );
}

async fn a_moderation_watch_from_now_skips_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let mut moderation = moderation_admin(&app).await;
    let banned = moderation
        .ban_user(ban_request(jane.id, "spam"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;

    let response = moderation
        .watch_moderation_events(pb::WatchModerationEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let start = response
        .metadata()
        .get(roster_kit::events::START_CURSOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(start, Some(banned));
    let mut live = response.into_inner();
    let unbanned = moderation
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .event_cursor;
    let first = next(&mut live).await;
    assert_eq!(first.kind(), pb::ModerationEventKind::UserUnbanned);
    assert_eq!(cursor_of(first.meta.as_ref()), unbanned);
}
