//! Races: a ban (and a flag) and a deletion of the same user at once; two
//! deletions of the same user at once. Whatever the interleaving, the end state
//! is consistent: one job, a deleted user whose sessions are refused, no flag
//! left against it, and every refused call refused with its reason.

use std::collections::BTreeSet;

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::{Code, Status};

use super::{
    ban_request, flag_request, get_user, list_flags, moderation_admin, moderation_as, next,
    session_of, watch,
};
use crate::helpers::{TestApp, assert_refused, create, expect_err};
use crate::on_both_backends;

on_both_backends!(
    ban_flag_and_delete_of_one_user_at_once,
    two_deletions_of_one_user_at_once,
);

/// Users raced on per test: more interleavings, same assertions.
const ROUNDS: usize = 4;

fn delete(user_id: i64) -> pb::DeleteUserRequest {
    pb::DeleteUserRequest {
        user_id,
        options: Some(pb::DeletionOptions::default()),
        dry_run: false,
        reason: String::new(),
    }
}

/// Follows the moderation events until every job of `jobs` completed.
async fn until_all_deleted(app: &TestApp, jobs: &[i64]) {
    let mut events = watch(&mut moderation_admin(app).await, "").await;
    let mut pending: BTreeSet<i64> = jobs.iter().copied().collect();
    while !pending.is_empty() {
        let event = next(&mut events).await;
        if event.kind() == pb::ModerationEventKind::UserDeleted {
            pending.remove(&event.deletion_job_id);
        }
    }
}

/// The user is deleted, has exactly one (completed) job, and its sessions are
/// refused.
async fn assert_deleted_once(app: &TestApp, user: &pb::User) -> pb::DeletionJob {
    assert!(get_user(app, user.id).await.is_deleted);
    let jobs = moderation_admin(app)
        .await
        .list_deletion_jobs(pb::ListDeletionJobsRequest {
            user_id: user.id,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].state(), pb::DeletionJobState::Completed);
    let status = expect_err(
        app.client(&session_of(app, user))
            .await
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(user.id)),
            })
            .await,
    );
    assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");
    jobs[0].clone()
}

fn refused_as_deleted<T>(result: &Result<T, Status>) {
    if let Err(status) = result {
        assert_refused(status, Code::FailedPrecondition, "USER_DELETED");
    }
}

async fn ban_flag_and_delete_of_one_user_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let mut raced = Vec::new();
    let mut jobs = Vec::new();
    for round in 0..ROUNDS {
        let user = create(&mut admin, &format!("user-{round}"), "Raced").await;
        let mut banner = moderation_admin(&app).await;
        let mut deleter = moderation_admin(&app).await;
        let mut flagger = moderation_as(&app, &bob).await;
        let (banned, deleted, flagged) = tokio::join!(
            banner.ban_user(ban_request(user.id, "spam")),
            deleter.delete_user(delete(user.id)),
            flagger.flag_user(flag_request(user.id, pb::FlagReason::Spam, "")),
        );
        // The deletion always starts; a ban or flag either came first or is
        // refused because the user is being deleted.
        let job = deleted
            .unwrap_or_else(|s| panic!("the deletion lost to a ban: {s:?}"))
            .into_inner()
            .job
            .unwrap_or_default();
        refused_as_deleted(&banned);
        refused_as_deleted(&flagged);
        jobs.push(job.id);
        raced.push((user, banned.is_ok()));
    }
    until_all_deleted(&app, &jobs).await;

    for (user, ban_landed) in &raced {
        assert_deleted_once(&app, user).await;
        let mut moderation = moderation_admin(&app).await;
        // A ban is kept only when it was accepted.
        let ban = moderation
            .get_ban(pb::GetBanRequest { user_id: user.id })
            .await;
        assert_eq!(ban.is_ok(), *ban_landed, "{ban:?}");
        // No flag against the deleted user, whichever came first.
        let flags = moderation
            .list_flags(list_flags(user.id))
            .await
            .unwrap_or_else(|s| panic!("{s:?}"))
            .into_inner();
        assert_eq!((flags.flag_count, flags.flags.len()), (0, 0));
        // Now that it is deleted, both are refused.
        let again = expect_err(moderation.ban_user(ban_request(user.id, "spam")).await);
        assert_refused(&again, Code::FailedPrecondition, "USER_DELETED");
        let again = expect_err(
            moderation_as(&app, &bob)
                .await
                .flag_user(flag_request(user.id, pb::FlagReason::Spam, ""))
                .await,
        );
        assert_refused(&again, Code::FailedPrecondition, "USER_DELETED");
    }
}

async fn two_deletions_of_one_user_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut raced = Vec::new();
    let mut jobs = Vec::new();
    for round in 0..ROUNDS {
        let user = create(&mut admin, &format!("user-{round}"), "Raced").await;
        let mut first = moderation_admin(&app).await;
        let mut second = moderation_admin(&app).await;
        let (a, b) = tokio::join!(
            first.delete_user(delete(user.id)),
            second.delete_user(delete(user.id)),
        );
        let (won, lost) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won.into_inner(), lost),
            other => panic!("expected one job and one refusal, got {other:?}"),
        };
        assert_refused(&lost, Code::FailedPrecondition, "USER_ALREADY_DELETED");
        let job = won.job.unwrap_or_default();
        jobs.push(job.id);
        raced.push((user, job.id));
    }
    until_all_deleted(&app, &jobs).await;
    for (user, job_id) in &raced {
        let job = assert_deleted_once(&app, user).await;
        assert_eq!(job.id, *job_id);
        let status = expect_err(
            moderation_admin(&app)
                .await
                .delete_user(delete(user.id))
                .await,
        );
        assert_refused(&status, Code::FailedPrecondition, "USER_ALREADY_DELETED");
    }
}
