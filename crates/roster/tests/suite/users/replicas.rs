use futures::StreamExt;
use roster_kit::testing::Backend;
use roster_proto::v1 as pb;

use crate::helpers::{TestApp, create, rename};
use crate::on_both_backends;

on_both_backends!(a_replica_serves_changes_made_by_another_once_it_has_seen_them);

async fn a_replica_serves_changes_made_by_another_once_it_has_seen_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replica = TestApp::spawn_on(&app.database_url, |_| {}).await;
    let mut admin = app.admin().await;
    let mut replica_admin = replica.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let get = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    // The replica reads (and caches) jane.
    let before = replica_admin
        .get_user(get.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(before.display_name, "Jane");

    let mut events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    admin
        .update_user(rename(jane.id, "Jane Doe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let update = loop {
        let event = events
            .next()
            .await
            .unwrap_or_else(|| panic!("the event stream ended"))
            .unwrap_or_else(|s| panic!("{s:?}"));
        if event.kind() == pb::UserEventKind::Updated {
            break event;
        }
    };
    let sequence: i64 = update
        .meta
        .map(|m| m.cursor)
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    replica
        .users
        .store
        .wait_until_cache_reflects(sequence)
        .await;

    let after = replica_admin
        .get_user(get)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(after.display_name, "Jane Doe");
    assert_eq!(after.version, before.version + 1);
}

on_both_backends!(a_replica_serves_names_from_its_cache_as_fresh_as_ids);

/// The outbox sequence of the next event of `kind` on `events`.
async fn next_sequence(
    events: &mut tonic::Streaming<pb::UserEvent>,
    kind: pb::UserEventKind,
) -> i64 {
    loop {
        let event = events
            .next()
            .await
            .unwrap_or_else(|| panic!("the event stream ended"))
            .unwrap_or_else(|s| panic!("{s:?}"));
        if event.kind() == kind {
            return event
                .meta
                .map(|m| m.cursor)
                .unwrap_or_default()
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

async fn a_replica_serves_names_from_its_cache_as_fresh_as_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replica = TestApp::spawn_on(&app.database_url, |_| {}).await;
    let mut admin = app.admin().await;
    let mut replica_admin = replica.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let by_name = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Name("jane".into())),
    };
    // Twice: the first read fills the replica's caches, the second is served
    // from them.
    for _ in 0..2 {
        let before = replica_admin
            .get_user(by_name.clone())
            .await
            .unwrap_or_else(|s| panic!("{s:?}"))
            .into_inner();
        assert_eq!((before.id, before.display_name.as_str()), (jane.id, "Jane"));
    }

    let mut events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    admin
        .update_user(rename(jane.id, "Jane Doe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let renamed = next_sequence(&mut events, pb::UserEventKind::Updated).await;
    replica.users.store.wait_until_cache_reflects(renamed).await;
    let after = replica_admin
        .get_user(by_name.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        after.display_name, "Jane Doe",
        "the rename reached the name"
    );

    admin
        .tombstone_user(pb::TombstoneUserRequest {
            user_id: jane.id,
            dry_run: false,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let deleted = next_sequence(&mut events, pb::UserEventKind::Deleted).await;
    replica.users.store.wait_until_cache_reflects(deleted).await;
    let gone = replica_admin
        .get_user(by_name)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(gone.is_deleted, "the deletion reached the name");
    assert_eq!(gone.display_name, "Deleted User");
    assert_eq!(gone.id, jane.id);
}

on_both_backends!(a_change_made_here_is_served_from_memory_until_a_newer_one_arrives);

/// A user changed on this replica stays cached as committed, also after the
/// cache follower has read the change back; a change made afterwards on
/// another replica replaces it. The row is altered behind the services'
/// backs (no event) to tell a cached answer from a database read.
async fn a_change_made_here_is_served_from_memory_until_a_newer_one_arrives(backend: Backend) {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn(backend).await;
    let other = TestApp::spawn_on(&app.database_url, |_| {}).await;
    let mut admin = app.admin().await;
    let mut other_admin = other.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let mut events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    admin
        .update_user(rename(jane.id, "Jane Doe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let renamed = next_sequence(&mut events, pb::UserEventKind::Updated).await;
    app.users.store.wait_until_cache_reflects(renamed).await;

    app.users
        .store
        .connection()
        .execute_unprepared(&format!(
            "UPDATE users SET display_name = 'Altered' WHERE id = {}",
            jane.id
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let get = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    let cached = admin
        .get_user(get.clone())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(cached.display_name, "Jane Doe", "served from memory");

    other_admin
        .update_user(rename(jane.id, "Jane Roe"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let renamed_elsewhere = next_sequence(&mut events, pb::UserEventKind::Updated).await;
    app.users
        .store
        .wait_until_cache_reflects(renamed_elsewhere)
        .await;
    let newer = admin
        .get_user(get)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(newer.display_name, "Jane Roe");
    assert_eq!(newer.version, cached.version + 1);
}
