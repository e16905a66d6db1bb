use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    batch_get_reports_missing_users_per_item,
    batch_get_is_bounded
);

async fn batch_get_reports_missing_users_per_item(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let john = create(&mut admin, "john", "John").await;
    let response = admin
        .batch_get_users(pb::BatchGetUsersRequest {
            ids: vec![john.id, 999_999, jane.id],
            names: vec!["ghost".into(), "jane".into()],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let summary: Vec<(Option<i64>, bool)> = response
        .results
        .iter()
        .map(|r| (r.user.as_ref().map(|u| u.id), r.not_found))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(john.id), false),
            (None, true),
            (Some(jane.id), false),
            (None, true),
            (Some(jane.id), false)
        ]
    );
    assert_eq!(
        response.results[3].requested,
        Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Name("ghost".into()))
        })
    );
}

async fn batch_get_is_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let status = expect_err(
        admin
            .batch_get_users(pb::BatchGetUsersRequest {
                ids: (1..=101).collect(),
                names: vec![],
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
    let status = expect_err(
        admin
            .batch_get_users(pb::BatchGetUsersRequest {
                ids: vec![1, -4],
                names: vec![],
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["ids[1]"]);
}
