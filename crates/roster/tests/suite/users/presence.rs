use futures::StreamExt;
use roster_kit::testing::Backend;
use roster_proto::v1 as pb;

use crate::helpers::{TestApp, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    presence_changes_without_touching_the_profile_version,
    concurrent_presence_changes_all_land_and_are_each_seen,
);

async fn presence_changes_without_touching_the_profile_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let mut as_jane = app.as_user(&jane).await;

    let online = as_jane
        .set_presence(pb::SetPresenceRequest {
            status: Some("AVAILABLE".into()),
            online: Some(true),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        online.presence,
        Some(pb::Presence {
            status: "AVAILABLE".into(),
            online: true
        })
    );
    assert_eq!(online.version, jane.version);
    assert_eq!(online.updated_at, jane.updated_at);

    let in_call = admin
        .set_presence(pb::SetPresenceRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Name("jane".into())),
            }),
            call_status: Some(pb::CallStatus::InCall.into()),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(in_call.call_status(), pb::CallStatus::InCall);
    assert_eq!(
        in_call.presence, online.presence,
        "unset fields keep their value"
    );

    let status = expect_err(
        as_jane
            .set_presence(pb::SetPresenceRequest {
                status: Some("away".into()),
                call_status: Some(7),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["status", "call_status"]);
    let status = expect_err(
        as_jane
            .set_presence(pb::SetPresenceRequest::default())
            .await,
    );
    assert_eq!(violated_fields(&status), ["status"]);
}

/// Many users changing presence at once are written in shared transactions:
/// every caller is answered with its own user, every user ends in the state
/// it set, one user's concurrent partial changes all apply, and a watcher sees
/// each user's change.
async fn concurrent_presence_changes_all_land_and_are_each_seen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(create(&mut admin, &format!("p{i}"), &format!("P {i}")).await);
    }
    let mut events = admin
        .watch_user_events(pb::WatchUserEventsRequest {
            from_now: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut calls = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = app.as_user(user).await;
        let status = if i % 2 == 0 { "AVAILABLE" } else { "AWAY" };
        calls.push(tokio::spawn(async move {
            client
                .set_presence(pb::SetPresenceRequest {
                    status: Some(status.into()),
                    online: Some(true),
                    ..Default::default()
                })
                .await
                .map(tonic::Response::into_inner)
        }));
    }
    // The same user, two partial changes at once: both fields land.
    let first = users[0].clone();
    let mut as_first = app.as_user(&first).await;
    let call_status = tokio::spawn(async move {
        as_first
            .set_presence(pb::SetPresenceRequest {
                call_status: Some(pb::CallStatus::InCall.into()),
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    });
    for (i, call) in calls.into_iter().enumerate() {
        let answered = call
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|s| panic!("{s:?}"));
        assert_eq!(answered.id, users[i].id, "each caller gets its own user");
        assert_eq!(answered.presence.map(|p| p.online), Some(true));
    }
    call_status
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|s| panic!("{s:?}"));
    for (i, user) in users.iter().enumerate() {
        let now = admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(user.id)),
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"))
            .into_inner();
        let status = if i % 2 == 0 { "AVAILABLE" } else { "AWAY" };
        assert_eq!(
            now.presence,
            Some(pb::Presence {
                status: status.into(),
                online: true
            }),
            "{}",
            user.name
        );
        if i == 0 {
            assert_eq!(now.call_status(), pb::CallStatus::InCall);
        }
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < users.len() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.next())
            .await
            .unwrap_or_else(|_| panic!("saw presence changes of {} users only", seen.len()))
            .unwrap_or_else(|| panic!("the stream ended"))
            .unwrap_or_else(|s| panic!("{s:?}"));
        assert_eq!(event.kind(), pb::UserEventKind::PresenceChanged);
        let user = event.user.unwrap_or_default();
        let meta = event.meta.unwrap_or_default();
        assert_eq!(
            meta.actor,
            format!("user:{}", user.id),
            "the event names its caller"
        );
        seen.insert(user.id);
    }
}
