//! Every event says who made the change, with which request and trace, and
//! why: the moderation, role and user streams, including the user events the
//! user service writes from the moderation and role streams.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;

use super::{
    applied, ban_request, cursor_of, moderation_admin, moderation_as, next, roles_admin, watch,
};
use crate::helpers::{TestApp, create};
use crate::on_both_backends;

on_both_backends!(events_carry_their_actor_request_trace_and_reason,);

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// `message` with the caller's `x-request-id` and a W3C `traceparent`.
fn traced<T>(message: T, request_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert(
        "x-request-id",
        request_id.parse().unwrap_or_else(|_| unreachable!()),
    );
    metadata.insert(
        "traceparent",
        format!("00-{TRACE_ID}-00f067aa0ba902b7-01")
            .parse()
            .unwrap_or_else(|_| unreachable!()),
    );
    request
}

fn origin(meta: Option<&pb::EventMeta>) -> (String, String, String, String) {
    let meta = meta.cloned().unwrap_or_default();
    (meta.actor, meta.request_id, meta.trace_id, meta.reason)
}

fn owned(
    actor: &str,
    request_id: &str,
    trace_id: &str,
    reason: &str,
) -> (String, String, String, String) {
    (
        actor.into(),
        request_id.into(),
        trace_id.into(),
        reason.into(),
    )
}

async fn events_carry_their_actor_request_trace_and_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let mut moderation = moderation_admin(&app).await;
    let mut as_bob = moderation_as(&app, &bob).await;

    // A ban with the caller's request id and trace: echoed, and on the event.
    let banned = moderation
        .ban_user(traced(ban_request(jane.id, "spam"), "req-ban-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!(
        banned
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-ban-1")
    );
    let banned = banned.into_inner().event_cursor;
    // A flag by a user, without a request id: the server makes one up and answers it.
    let flagged = as_bob
        .flag_user(pb::FlagUserRequest {
            user_id: jane.id,
            reason: pb::FlagReason::Harassment.into(),
            note: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let generated = flagged
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!generated.is_empty());
    let flagged = flagged.into_inner().event_cursor;

    let mut events = watch(&mut moderation, "").await;
    let ban_event = next(&mut events).await;
    assert_eq!(cursor_of(ban_event.meta.as_ref()), banned);
    assert_eq!(
        origin(ban_event.meta.as_ref()),
        owned("admin:tests", "req-ban-1", TRACE_ID, "spam")
    );
    let flag_event = next(&mut events).await;
    assert_eq!(cursor_of(flag_event.meta.as_ref()), flagged);
    assert_eq!(
        origin(flag_event.meta.as_ref()),
        owned(
            &format!("user:{}", bob.id),
            &generated,
            "",
            "FLAG_REASON_HARASSMENT"
        )
    );

    // The user service's own BANNED event names the moderator and the reason.
    applied(&app, &flagged).await;
    let mut user_events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut jane_banned = None;
    while jane_banned.is_none() {
        let event = next(&mut user_events).await;
        if event.kind() == pb::UserEventKind::Banned {
            jane_banned = Some(event);
        } else if event.kind() == pb::UserEventKind::Created {
            assert_eq!(origin(event.meta.as_ref()).0, "admin:tests");
        }
    }
    assert_eq!(
        origin(jane_banned.and_then(|e| e.meta).as_ref()),
        owned("admin:tests", "req-ban-1", TRACE_ID, "spam")
    );

    // A role grant: the role stream's event names its caller and request.
    let mut roles = roles_admin(&app).await;
    let granted = roles
        .grant_role(traced(
            pb::GrantRoleRequest {
                user_id: bob.id,
                role: "channel-moderator".into(),
                scope: Some(pb::Scope {
                    scope: Some(pb::scope::Scope::ChannelId("general".into())),
                }),
                expires_at: None,
            },
            "req-grant-1",
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut role_events = roles
        .watch_role_events(pb::WatchRoleEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut grant_event = next(&mut role_events).await;
    while grant_event.kind() != pb::RoleEventKind::RoleGranted {
        grant_event = next(&mut role_events).await;
    }
    assert_eq!(
        grant_event.grant.map(|g| g.user_id),
        granted.grant.map(|g| g.user_id)
    );
    assert_eq!(
        origin(grant_event.meta.as_ref()),
        owned("admin:tests", "req-grant-1", TRACE_ID, "")
    );
}
