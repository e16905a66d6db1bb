//! ListAuditEntries: every moderation action, filtered and paged.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::{Code, Request};

use super::{
    ban_request, create_role, delete_and_wait, flag, grant, moderation_admin, moderation_as,
    roles_admin,
};
use crate::helpers::{TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(audit_entries_filter_by_target_actor_action_and_time_and_page);

fn millis(at: Option<&prost_types::Timestamp>) -> i64 {
    at.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

async fn audit_entries_filter_by_target_actor_action_and_time_and_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_admin(&app).await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let carol = create(&mut admin, "carol", "Carol").await;
    let moderator = create(&mut admin, "moderator", "Moderator").await;
    let plain = create(&mut admin, "plain", "Plain").await;
    create_role(&mut roles, "auditor", &["BAN_USER"]).await;
    grant(&app, &mut roles, &moderator, "auditor").await;
    let mut as_moderator = moderation_as(&app, &moderator).await;
    let mut as_admin = moderation_admin(&app).await;

    flag(&mut moderation_as(&app, &bob).await, jane.id).await;
    let mut ban = Request::new(ban_request(jane.id, "spam"));
    ban.metadata_mut().insert(
        "x-request-id",
        "req-ban-jane".parse().unwrap_or_else(|_| unreachable!()),
    );
    as_moderator
        .ban_user(ban)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    as_moderator
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: "appeal".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    as_admin
        .clear_flags(pb::ClearFlagsRequest {
            user_id: jane.id,
            reason: "reviewed".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    delete_and_wait(&app, carol.id, pb::DeletionOptions::default()).await;

    let list = |request: pb::ListAuditEntriesRequest| {
        let mut client = as_moderator.clone();
        async move {
            client
                .list_audit_entries(request)
                .await
                .unwrap_or_else(|s| panic!("{s:?}"))
                .into_inner()
        }
    };
    let of_jane = |page_size: u32, page_token: String| pb::ListAuditEntriesRequest {
        target_user_id: jane.id,
        page_size,
        page_token,
        ..Default::default()
    };

    // Everything done to jane, newest first, with who did it and why.
    let all = list(of_jane(100, String::new())).await.entries;
    use pb::AuditAction as A;
    let actions: Vec<_> = all
        .iter()
        .map(|e| (e.action(), e.actor.clone(), e.reason.clone()))
        .collect();
    let by_moderator = format!("user:{}", moderator.id);
    assert_eq!(
        actions,
        [
            (
                A::ClearFlags,
                "admin:tests".to_owned(),
                "reviewed".to_owned()
            ),
            (A::UnbanUser, by_moderator.clone(), "appeal".to_owned()),
            (A::BanUser, by_moderator.clone(), "spam".to_owned()),
            (A::FlagUser, format!("user:{}", bob.id), String::new()),
        ]
    );
    assert!(all.iter().all(|e| e.target_user_id == jane.id));
    assert_eq!(all[2].request_id, "req-ban-jane");
    assert_eq!(all[3].details.get("flag_reason"), Some(&"SPAM".to_owned()));
    assert_eq!(all[0].details.get("removed_count"), Some(&"1".to_owned()));

    // By actor, by action.
    let by_bob = list(pb::ListAuditEntriesRequest {
        actor: format!("user:{}", bob.id),
        ..Default::default()
    })
    .await
    .entries;
    assert_eq!(
        by_bob
            .iter()
            .map(|e| (e.action(), e.target_user_id))
            .collect::<Vec<_>>(),
        [(A::FlagUser, jane.id)]
    );
    let bans = list(pb::ListAuditEntriesRequest {
        action: A::BanUser.into(),
        ..Default::default()
    })
    .await
    .entries;
    assert_eq!(bans.iter().map(|e| e.id).collect::<Vec<_>>(), [all[2].id]);
    let deletions = list(pb::ListAuditEntriesRequest {
        action: A::DeleteUser.into(),
        ..Default::default()
    })
    .await
    .entries;
    assert_eq!(
        deletions
            .iter()
            .map(|e| e.target_user_id)
            .collect::<Vec<_>>(),
        [carol.id]
    );

    // By time: from the ban on (inclusive), and before it (exclusive).
    let ban_at = all[2].occurred_at;
    let from_ban = list(pb::ListAuditEntriesRequest {
        start_time: ban_at,
        ..of_jane(100, String::new())
    })
    .await
    .entries;
    let before_ban = list(pb::ListAuditEntriesRequest {
        end_time: ban_at,
        ..of_jane(100, String::new())
    })
    .await
    .entries;
    let ids = |entries: &[pb::AuditEntry]| entries.iter().map(|e| e.id).collect::<Vec<_>>();
    let expected_from: Vec<i64> = all
        .iter()
        .filter(|e| millis(e.occurred_at.as_ref()) >= millis(ban_at.as_ref()))
        .map(|e| e.id)
        .collect();
    let expected_before: Vec<i64> = all
        .iter()
        .filter(|e| millis(e.occurred_at.as_ref()) < millis(ban_at.as_ref()))
        .map(|e| e.id)
        .collect();
    assert_eq!(ids(&from_ban), expected_from);
    assert!(expected_from.contains(&all[2].id));
    assert_eq!(ids(&before_ban), expected_before);
    assert!(!expected_before.contains(&all[2].id));

    // A page at a time: the same entries in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(of_jane(1, token)).await;
        assert!(page.entries.len() <= 1);
        paged.extend(page.entries);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(ids(&paged), ids(&all));

    // Refused: without BAN_USER; a token of other filters; an empty time range.
    let status = expect_err(
        moderation_as(&app, &plain)
            .await
            .list_audit_entries(pb::ListAuditEntriesRequest::default())
            .await,
    );
    assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    let first = list(of_jane(1, String::new())).await;
    let status = expect_err(
        as_moderator
            .list_audit_entries(pb::ListAuditEntriesRequest {
                target_user_id: bob.id,
                page_size: 1,
                page_token: first.next_page_token,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    let status = expect_err(
        as_moderator
            .list_audit_entries(pb::ListAuditEntriesRequest {
                start_time: ban_at,
                end_time: ban_at,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
    assert_eq!(violated_fields(&status), ["end_time"]);
}
