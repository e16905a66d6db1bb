use std::time::Duration;

use futures::StreamExt;
use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::{Code, Streaming};

use crate::helpers::{TestApp, assert_refused, create, rename};
use crate::on_both_backends;

on_both_backends!(
    events_replay_in_order_and_resume_after_a_cursor,
    watchers_see_new_changes_live_and_from_other_replicas,
    malformed_cursors_are_refused,
    a_watch_from_now_skips_history_and_says_where_it_starts,
);

/// Upper bound on waiting for an event that must come; only a broken stream hits it.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(20);

async fn next_event(stream: &mut Streaming<pb::UserEvent>) -> pb::UserEvent {
    match tokio::time::timeout(DELIVERY_DEADLINE, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn summary(event: &pb::UserEvent) -> (pb::UserEventKind, String) {
    (
        event.kind(),
        event
            .user
            .as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_default(),
    )
}

fn cursor(event: &pb::UserEvent) -> String {
    event
        .meta
        .as_ref()
        .map(|m| m.cursor.clone())
        .unwrap_or_default()
}

async fn events_replay_in_order_and_resume_after_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    create(&mut admin, "john", "John").await;
    admin
        .update_user(rename(jane.id, "Jane Doe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    // Presence is live, not kept: it is not among what replays.
    admin
        .set_presence(presence_of(jane.id, true))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    let mut stream = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(next_event(&mut stream).await);
    }
    let kinds: Vec<_> = replayed.iter().map(summary).collect();
    assert_eq!(
        kinds,
        [
            (pb::UserEventKind::Created, "Jane".to_owned()),
            (pb::UserEventKind::Created, "John".to_owned()),
            (pb::UserEventKind::Updated, "Jane Doe".to_owned()),
        ]
    );

    // A presence change while the stream is open arrives live, carrying the
    // cursor of the last kept event before it.
    admin
        .set_presence(presence_of(jane.id, false))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let live = next_event(&mut stream).await;
    assert_eq!(
        summary(&live),
        (pb::UserEventKind::PresenceChanged, "Jane Doe".to_owned())
    );
    assert!(live.meta.as_ref().is_some_and(|m| m.live), "{live:?}");
    assert_eq!(cursor(&live), cursor(&replayed[2]));
    assert_eq!(
        live.user.and_then(|u| u.presence).map(|p| p.online),
        Some(false)
    );
    // The next kept event follows on from the last kept one.
    create(&mut admin, "joan", "Joan").await;
    let next = next_event(&mut stream).await;
    assert_eq!(
        summary(&next),
        (pb::UserEventKind::Created, "Joan".to_owned())
    );
    assert!(!next.meta.as_ref().is_some_and(|m| m.live));

    let mut resumed = admin
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: cursor(&replayed[1]),
            from_now: false,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let next = next_event(&mut resumed).await;
    assert_eq!(cursor(&next), cursor(&replayed[2]));
    assert_eq!(summary(&next), summary(&replayed[2]));
    // Resuming from a live event's cursor replays the kept event after it,
    // not the presence changes.
    assert_eq!(
        summary(&next_event(&mut resumed).await),
        (pb::UserEventKind::Created, "Joan".to_owned())
    );
}

fn presence_of(id: i64, online: bool) -> pb::SetPresenceRequest {
    pb::SetPresenceRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
        online: Some(online),
        ..Default::default()
    }
}

async fn watchers_see_new_changes_live_and_from_other_replicas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replica = TestApp::spawn_on(&app.database_url, |_| {}).await;
    let mut admin = app.admin().await;
    let mut replica_admin = replica.admin().await;

    let mut local = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut remote = replica_admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();

    create(&mut admin, "jane", "Jane").await;
    assert_eq!(
        summary(&next_event(&mut local).await),
        (pb::UserEventKind::Created, "Jane".to_owned())
    );
    assert_eq!(
        summary(&next_event(&mut remote).await),
        (pb::UserEventKind::Created, "Jane".to_owned())
    );

    create(&mut replica_admin, "john", "John").await;
    assert_eq!(
        summary(&next_event(&mut local).await),
        (pb::UserEventKind::Created, "John".to_owned())
    );
}

async fn malformed_cursors_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let status = match admin
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: "yesterday".into(),
            from_now: false,
        })
        .await
    {
        Ok(_) => panic!("a malformed cursor was accepted"),
        Err(status) => status,
    };
    assert_refused(&status, Code::InvalidArgument, "CURSOR_INVALID");
}

async fn a_watch_from_now_skips_history_and_says_where_it_starts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    create(&mut admin, "jane", "Jane").await;
    let mut history = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let jane = next_event(&mut history).await;

    let response = admin
        .watch_user_events(pb::WatchUserEventsRequest {
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
    assert_eq!(start, Some(cursor(&jane)));
    let mut live = response.into_inner();
    create(&mut admin, "john", "John").await;
    assert_eq!(
        summary(&next_event(&mut live).await),
        (pb::UserEventKind::Created, "John".to_owned())
    );

    let status = match admin
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: cursor(&jane),
            from_now: true,
        })
        .await
    {
        Ok(_) => panic!("from_now with a cursor was accepted"),
        Err(status) => status,
    };
    assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
    assert!(status.message().contains("from_now"), "{status:?}");
}
