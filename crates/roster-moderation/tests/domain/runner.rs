//! The deletion runner against fake peers: step order, retries with backoff on
//! a controlled clock, resuming a job another runner left half done, and a
//! receipt without personal data.

use std::{sync::Arc, time::Duration};

use roster_kit::testing::Backend;
use roster_moderation::domain::{
    audit::AuditQuery,
    deletion::{DeleteOutcome, DeleteUserInput, DeletionJob, DeletionOptions, JobState, StepState},
    fields::Reason,
    ports::{AuditRepository, DeletionRepository, EventRepository},
};

use super::{GUARD, Harness, LEASE, admin, on_both_backends, start_time};

const SECRET_NAME: &str = "jane-secret-name";

async fn start_deletion(h: &Harness, user_id: i64, options: DeletionOptions) -> DeletionJob {
    let input = DeleteUserInput {
        user_id,
        options,
        dry_run: false,
        reason: Reason::parse("requested by the user", "reason").unwrap(),
    };
    match h.moderation.delete_user(&admin(), input).await.unwrap() {
        DeleteOutcome::Started(job) => job,
        DeleteOutcome::Preview(_) => panic!("not a dry run"),
    }
}

async fn job(h: &Harness, id: i64) -> DeletionJob {
    h.store.deletion_job(id).await.unwrap().unwrap()
}

fn states(job: &DeletionJob) -> Vec<StepState> {
    job.steps.iter().map(|s| s.state).collect()
}

async fn runs_every_step_in_order_and_leaves_a_receipt_without_personal_data(backend: Backend) {
    let h = Harness::new(backend, &["chat", "feed"]).await;
    h.users.add(7, SECRET_NAME);
    h.roles.give(7, "EDIT_USER");
    h.files.add(7, 4);
    let options = DeletionOptions {
        mark_messages_deleted: true,
        hard_delete_comments: true,
        ..DeletionOptions::default()
    };
    let created = start_deletion(&h, 7, options).await;
    assert_eq!(created.state, JobState::Pending);

    let runner = h.runner("r1", None);
    assert_eq!(runner.run_due().await.unwrap(), 1);

    assert_eq!(
        h.log.calls(),
        [
            "users.tombstone:7",
            "roles.revoke_all:7",
            "files.erase:7",
            "chat.delete:7",
            "feed.delete:7"
        ]
    );
    assert_eq!(h.participants[0].calls(), [(7, options, created.id)]);

    let done = job(&h, created.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.completed_at, Some(start_time()));
    assert!(states(&done).iter().all(|s| *s == StepState::Succeeded));
    let receipt = done.receipt();
    let erased: Vec<(&str, Vec<(String, i64)>)> = receipt
        .lines
        .iter()
        .map(|line| {
            (
                line.service.as_str(),
                line.erased.clone().into_iter().collect(),
            )
        })
        .collect();
    assert_eq!(
        erased,
        [
            ("users", vec![("user_records".into(), 1)]),
            ("roles", vec![("role_grants".into(), 1)]),
            ("files", vec![("files".into(), 4)]),
            (
                "moderation",
                vec![
                    ("flags_against_user".into(), 0),
                    ("flags_by_user".into(), 0)
                ]
            ),
            ("chat", vec![("messages".into(), 3)]),
            ("feed", vec![("messages".into(), 3)]),
        ]
    );
    assert!(
        receipt
            .lines
            .iter()
            .all(|line| line.at == Some(start_time()))
    );

    // The last event says the user is deleted, with the options.
    let events = h.store.events_after(0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind()).collect();
    assert_eq!(kinds, ["USER_DELETION_STARTED", "USER_DELETED"]);

    // Nothing this service keeps names the user: job, events, audit.
    let audit = h
        .store
        .list_audit(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let kept = format!("{done:?} {receipt:?} {events:?} {audit:?}");
    assert!(kept.contains("user_id: 7"));
    assert!(!kept.contains(SECRET_NAME), "personal data kept: {kept}");

    // A completed job is not run again.
    assert_eq!(runner.run_due().await.unwrap(), 0);
}

async fn retries_a_failing_participant_with_exponential_backoff(backend: Backend) {
    let h = Harness::new(backend, &["chat", "feed"]).await;
    h.users.add(8, "bob");
    h.participants[0].fail_next(3);
    let created = start_deletion(&h, 8, DeletionOptions::default()).await;
    let runner = h.runner("r1", None);

    let mut schedule = Vec::new();
    for wait in [0, 1, 2, 4] {
        h.clock.advance(Duration::from_secs(wait));
        // Due exactly at the scheduled time, not before.
        assert_eq!(runner.run_due().await.unwrap(), 1, "after waiting {wait}s");
        assert_eq!(
            runner.run_due().await.unwrap(),
            0,
            "nothing due before the next retry"
        );
        let current = job(&h, created.id).await;
        let chat = &current.steps[4];
        if current.state == JobState::Completed {
            break;
        }
        assert_eq!(chat.state, StepState::Retrying);
        assert!(
            chat.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("chat did not answer")
        );
        let next = chat.next_attempt_at.unwrap();
        schedule.push((chat.attempts, (next - h.clock_now()).num_seconds()));
        assert_eq!(
            current.lease_owner, None,
            "a waiting job is free for any replica"
        );
    }
    assert_eq!(schedule, [(1, 1), (2, 2), (3, 4)]);

    let done = job(&h, created.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.steps[4].attempts, 4);
    assert_eq!(done.steps[4].last_error, None);
    assert_eq!(h.participants[0].calls().len(), 4);
    // Later participants wait for earlier ones; earlier steps are not repeated.
    assert_eq!(h.participants[1].calls().len(), 1);
    let tombstones = h
        .log
        .calls()
        .iter()
        .filter(|c| c.starts_with("users."))
        .count();
    assert_eq!(tombstones, 1);
}

async fn resumes_a_job_whose_runner_stopped_between_steps(backend: Backend) {
    let h = Arc::new(Harness::new(backend, &["chat"]).await);
    h.users.add(9, "carol");
    h.files.add(9, 2);
    let created = start_deletion(&h, 9, DeletionOptions::default()).await;

    // The first runner stops for good after REVOKE_GRANTS (the test pause
    // point), like a process killed between two steps.
    let first = Arc::new(h.runner("first", Some("REVOKE_GRANTS")));
    let task = tokio::spawn({
        let first = first.clone();
        async move { first.run_due().await }
    });
    let paused = tokio::time::timeout(GUARD, first.wait_until_paused())
        .await
        .unwrap();
    assert_eq!(paused, Some((created.id, 1)));
    task.abort();

    let half = job(&h, created.id).await;
    assert_eq!(half.state, JobState::Running);
    assert_eq!(
        states(&half),
        [
            StepState::Succeeded,
            StepState::Succeeded,
            StepState::Pending,
            StepState::Pending,
            StepState::Pending
        ]
    );
    assert_eq!(half.lease_owner.as_deref(), Some("first"));

    // Another runner cannot take it while the lease lasts…
    let second = h.runner("second", None);
    assert_eq!(second.run_due().await.unwrap(), 0);
    h.clock.advance(LEASE - Duration::from_secs(1));
    assert_eq!(second.run_due().await.unwrap(), 0);
    // …and finishes it once the lease expired, without redoing finished steps.
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(second.run_due().await.unwrap(), 1);
    let done = job(&h, created.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        h.log.calls(),
        [
            "users.tombstone:9",
            "roles.revoke_all:9",
            "files.erase:9",
            "chat.delete:9"
        ]
    );
    assert_eq!(done.steps[2].erased.get("files"), Some(&2));
}

async fn a_step_interrupted_mid_way_is_run_again(backend: Backend) {
    let h = Harness::new(backend, &[]).await;
    h.users.add(10, "dave");
    let created = start_deletion(&h, 10, DeletionOptions::default()).await;
    // A runner claimed the job and started the first step, then vanished.
    let now = h.clock_now();
    assert!(
        h.store
            .claim_deletion_job(
                created.id,
                "ghost",
                now,
                now + chrono::TimeDelta::seconds(60)
            )
            .await
            .unwrap()
    );
    let ghost = roster_moderation::domain::deletion::Lease {
        job_id: created.id,
        owner: "ghost".into(),
    };
    h.store.start_step(&ghost, 0, now).await.unwrap();
    assert_eq!(job(&h, created.id).await.steps[0].state, StepState::Running);

    h.clock.advance(LEASE);
    assert_eq!(h.runner("heir", None).run_due().await.unwrap(), 1);
    let done = job(&h, created.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.steps[0].attempts, 2, "the interrupted attempt counts");
    // The tombstone is idempotent; the heir's attempt changed nothing new.
    assert_eq!(done.steps[0].erased.get("user_records"), Some(&1));
}

async fn a_participant_no_longer_configured_is_skipped(backend: Backend) {
    let configured = Harness::new(backend, &["chat", "gone"]).await;
    configured.users.add(11, "erin");
    let created = start_deletion(&configured, 11, DeletionOptions::default()).await;
    // The same database, served by a process configured without "gone".
    let mut peers = configured.moderation.peers().clone();
    peers.participants.retain(|p| p.name() != "gone");
    let moderation = roster_moderation::domain::Moderation::new(
        configured.moderation.repository().clone(),
        peers,
        configured.clock.clone(),
    );
    let runner = roster_moderation::domain::deletion::DeletionRunner::new(
        &moderation,
        roster_moderation::domain::deletion::RunnerSettings {
            owner: "r".into(),
            lease: LEASE,
            backoff: roster_moderation::domain::deletion::Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(2),
            },
            pause_after: None,
        },
    );
    assert_eq!(runner.run_due().await.unwrap(), 1);
    let done = job(&configured, created.id).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.steps[5].state, StepState::Skipped);
    assert!(
        done.steps[5]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("gone")
    );
    assert_eq!(done.steps[4].state, StepState::Succeeded);
}

impl Harness {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use roster_moderation::domain::Clock;
        self.clock.now()
    }
}

on_both_backends!(
    runs_every_step_in_order_and_leaves_a_receipt_without_personal_data,
    retries_a_failing_participant_with_exponential_backoff,
    resumes_a_job_whose_runner_stopped_between_steps,
    a_step_interrupted_mid_way_is_run_again,
    a_participant_no_longer_configured_is_skipped,
);
