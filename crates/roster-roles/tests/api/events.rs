//! The role event stream: order, resumption, other replicas.

use super::*;

on_both_backends!(
    events_stream_in_order_and_resume,
    a_second_instance_sees_a_revoke,
);

async fn events_stream_in_order_and_resume(backend: Backend) {
    use pb::RoleEventKind as K;
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    create_role(&mut admin, "helpers", &["EDIT_MESSAGE"]).await;
    grant(&mut admin, 110, "helpers", channel("a")).await;

    let mut stream = admin
        .watch_role_events(pb::WatchRoleEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let created = next_event(&mut stream).await;
    assert_eq!(created.kind, K::RoleCreated as i32);
    assert_eq!(created.role.as_ref().unwrap().name, "helpers");
    let granted = next_event(&mut stream).await;
    assert_eq!(granted.kind, K::RoleGranted as i32);
    assert_eq!(granted.grant.as_ref().unwrap().user_id, 110);

    // Live changes follow.
    admin
        .update_role(pb::UpdateRoleRequest {
            name: "helpers".into(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
            description: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let revoked = admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: 110,
            role: "helpers".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    grant(&mut admin, 111, "helpers", network()).await;
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "helpers".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    let mut kinds = Vec::new();
    let mut cursors = vec![created.meta.unwrap().cursor, granted.meta.unwrap().cursor];
    for _ in 0..5 {
        let event = next_event(&mut stream).await;
        kinds.push(event.kind);
        cursors.push(event.meta.unwrap().cursor);
    }
    assert_eq!(
        kinds,
        [
            K::RoleUpdated as i32,
            K::RoleRevoked as i32,
            K::RoleGranted as i32,
            K::RoleRevoked as i32,
            K::RoleDeleted as i32
        ]
    );
    assert_eq!(cursors[3], revoked.event_cursor);
    assert_eq!(cursors[6], deleted.event_cursor);
    let numbers: Vec<i64> = cursors.iter().map(|c| c.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    // Resume right after a cursor.
    let mut resumed = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: cursors[4].clone(),
            from_now: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next_event(&mut resumed).await.meta.unwrap().cursor,
        cursors[5]
    );

    // From now: only what happens next.
    let mut from_now = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap()
        .into_inner();
    let later = grant(&mut admin, 112, "channel-moderator", channel("z")).await;
    let event = next_event(&mut from_now).await;
    assert_eq!(event.meta.unwrap().cursor, later.event_cursor);

    assert_refused(
        admin
            .watch_role_events(pb::WatchRoleEventsRequest {
                after_cursor: "not-a-cursor".into(),
                from_now: false,
            })
            .await,
        Code::InvalidArgument,
        "CURSOR_INVALID",
    );
}
async fn a_second_instance_sees_a_revoke(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_on(first.database.clone()).await;
    let mut on_first = first.admin().await;
    let mut on_second = second.admin().await;

    grant(&mut on_first, 120, "channel-moderator", channel("a")).await;
    assert!(allowed(&mut on_second, 120, "BAN_CHANNEL_USER", channel("a")).await);

    let mut watch = on_second
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap()
        .into_inner();
    let revoked = on_first
        .revoke_role(pb::RevokeRoleRequest {
            user_id: 120,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    // The second instance learns of it by polling the shared outbox.
    let event = next_event(&mut watch).await;
    assert_eq!(event.kind, pb::RoleEventKind::RoleRevoked as i32);
    assert_eq!(event.meta.unwrap().cursor, revoked.event_cursor);
    assert!(!allowed(&mut on_second, 120, "BAN_CHANNEL_USER", channel("a")).await);
}
