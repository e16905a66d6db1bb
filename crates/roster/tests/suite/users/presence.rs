use roster_kit::testing::Backend;
use roster_proto::v1 as pb;

use crate::helpers::{TestApp, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(presence_changes_without_touching_the_profile_version);

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
