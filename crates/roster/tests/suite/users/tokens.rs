use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(issued_tokens_work_until_revoked);

async fn issued_tokens_work_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
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
    assert_eq!(
        jane.display_name, "Jane",
        "issuing a token creates the user"
    );

    let mut as_jane = app.client(&issued.access_token).await;
    let me = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(jane.id)),
    };
    as_jane
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
    let status = expect_err(as_jane.get_user(me.clone()).await);
    assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");

    let fresh = admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "jane".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut again = app.client(&fresh.access_token).await;
    again
        .get_user(me)
        .await
        .unwrap_or_else(|s| panic!("tokens issued after a revoke work: {s:?}"));

    let status = expect_err(
        admin
            .issue_user_token(pb::IssueUserTokenRequest {
                name: "jane".into(),
                ttl_seconds: 400 * 24 * 3600,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["ttl_seconds"]);
}
