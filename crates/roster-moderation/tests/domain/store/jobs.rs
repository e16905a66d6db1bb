//! Deletion jobs in the store: one per user under races, exclusive leases, completion.

use roster_kit::testing::Backend;
use roster_moderation::domain::{
    Clock,
    audit::AuditAction,
    bans::NewBan,
    deletion::{JobQuery, JobState, Lease, StepOutcome},
    flags::FlagReason,
    ports::{BanRepository, DeletionRepository, EventRepository, FlagRepository},
};

use super::{at, audit, flag_by, new_job};
use crate::{admin, fresh_store, on_both_backends, user};

/// A clock one second later at every reading, from `at(start)`.
struct Ticking(std::sync::atomic::AtomicI64);

impl From<i64> for Ticking {
    fn from(start: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start))
    }
}

impl Clock for Ticking {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        at(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }
}

async fn one_deletion_job_per_user_even_when_racing(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let a = audit(&admin(), 4, AuditAction::DeleteUser);
    let (first, second) = tokio::join!(
        store.create_deletion_job(new_job(4), a.clone(), at(0)),
        store.create_deletion_job(new_job(4), a.clone(), at(0)),
    );
    let outcomes = [first, second];
    let created: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "exactly one job");
    let refused: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason, "USER_ALREADY_DELETED");

    let job = created[0];
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.steps.len(), 5);
    assert_eq!(
        store.deletion_job(job.id).await.unwrap().as_ref(),
        Some(job)
    );
    assert_eq!(
        store.deletion_job_of_user(4).await.unwrap().map(|j| j.id),
        Some(job.id)
    );

    let listed = store
        .list_deletion_jobs(&JobQuery {
            state: Some(JobState::Pending),
            user_id: None,
            limit: 10,
            before_id: None,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let none = store
        .list_deletion_jobs(&JobQuery {
            state: Some(JobState::Completed),
            user_id: None,
            limit: 10,
            before_id: None,
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn lease_claims_are_exclusive_and_expire(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let job = store
        .create_deletion_job(
            new_job(5),
            audit(&admin(), 5, AuditAction::DeleteUser),
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(store.due_deletion_jobs(at(0), 10).await.unwrap(), [job.id]);

    let (a, b) = tokio::join!(
        store.claim_deletion_job(job.id, "a", at(0), at(60)),
        store.claim_deletion_job(job.id, "b", at(0), at(60)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one claimer wins (a: {a}, b: {b})");
    let (winner, loser) = if a { ("a", "b") } else { ("b", "a") };
    assert!(
        store
            .due_deletion_jobs(at(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .claim_deletion_job(job.id, loser, at(30), at(90))
            .await
            .unwrap()
    );

    // Renewal keeps it; after expiry anyone may take it, and the old holder's
    // writes are refused.
    let held = Lease {
        job_id: job.id,
        owner: winner.into(),
    };
    assert!(store.renew_lease(&held, at(100)).await.unwrap());
    assert!(
        !store
            .claim_deletion_job(job.id, loser, at(99), at(160))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_deletion_job(job.id, loser, at(100), at(160))
            .await
            .unwrap()
    );
    assert!(!store.renew_lease(&held, at(200)).await.unwrap());
    let err = store.start_step(&held, 0, at(101)).await.err().unwrap();
    assert_eq!(err.reason, "LEASE_LOST");
    let err = store
        .finish_step(
            &held,
            0,
            StepOutcome::Succeeded(Default::default()),
            at(101),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(err.reason, "LEASE_LOST");

    // The new holder works; a failure frees the job until its retry time.
    let lease = Lease {
        job_id: job.id,
        owner: loser.into(),
    };
    let step = store.start_step(&lease, 0, at(101)).await.unwrap();
    assert_eq!(step.attempts, 1);
    store
        .retry_step_later(&lease, 0, "users did not answer", at(111), at(101))
        .await
        .unwrap();
    assert!(
        store
            .due_deletion_jobs(at(110), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .claim_deletion_job(job.id, winner, at(110), at(170))
            .await
            .unwrap()
    );
    assert_eq!(
        store.due_deletion_jobs(at(111), 10).await.unwrap(),
        [job.id]
    );
    assert!(
        store
            .claim_deletion_job(job.id, winner, at(111), at(171))
            .await
            .unwrap()
    );
}

async fn finishing_the_last_step_completes_the_job_and_emits_user_deleted(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let a = audit(&user(2), 6, AuditAction::FlagUser);
    // User 6 flagged 7 and 8; 9 flagged 6.
    store
        .upsert_flag(flag_by(6, 7, FlagReason::Spam), a.clone(), at(0))
        .await
        .unwrap();
    store
        .upsert_flag(flag_by(6, 8, FlagReason::Spam), a.clone(), at(0))
        .await
        .unwrap();
    store
        .upsert_flag(flag_by(9, 8, FlagReason::Spam), a.clone(), at(0))
        .await
        .unwrap();
    store
        .upsert_flag(flag_by(9, 6, FlagReason::Spam), a, at(0))
        .await
        .unwrap();

    let mut job = new_job(6);
    job.steps.truncate(4);
    let job = store
        .create_deletion_job(job, audit(&admin(), 6, AuditAction::DeleteUser), at(1))
        .await
        .unwrap();
    assert!(
        store
            .claim_deletion_job(job.id, "r", at(1), at(61))
            .await
            .unwrap()
    );
    let lease = Lease {
        job_id: job.id,
        owner: "r".into(),
    };
    for position in 0..3 {
        store.start_step(&lease, position, at(2)).await.unwrap();
        let done = store
            .finish_step(
                &lease,
                position,
                StepOutcome::Succeeded(Default::default()),
                at(2),
            )
            .await
            .unwrap();
        assert!(!done);
    }
    let last = store
        .events_after(0, 100)
        .await
        .unwrap()
        .last()
        .unwrap()
        .seq;
    store.start_step(&lease, 3, at(3)).await.unwrap();
    // The removal starts at 3 and is done at 4: the step ends when it is done.
    let clock = Ticking::from(3);
    assert!(store.remove_flags_step(&lease, 3, 6, &clock).await.unwrap());

    let job = store.deletion_job(job.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.steps[3].completed_at, Some(at(4)));
    assert_eq!(job.completed_at, Some(at(4)));
    assert_eq!(job.lease_owner, None);
    let erased = &job.steps[3].erased;
    assert_eq!(erased.get("flags_by_user"), Some(&2));
    assert_eq!(erased.get("flags_against_user"), Some(&1));
    assert_eq!(store.flag_count(8).await.unwrap(), 1);

    let tail_events = store.events_after(last, 100).await.unwrap();
    // The flags' events are dated when the removal started.
    assert_eq!(tail_events[0].occurred_at, at(3));
    let tail: Vec<(&'static str, i64, Option<i64>)> = tail_events
        .iter()
        .map(|e| (e.event.kind(), e.event.user_id(), e.event.flag_count()))
        .collect();
    assert_eq!(
        tail,
        [
            ("USER_UNFLAGGED", 7, Some(0)),
            ("USER_UNFLAGGED", 8, Some(1)),
            ("FLAGS_CLEARED", 6, Some(0)),
            ("USER_DELETED", 6, None),
        ]
    );
    // A completed job is not due and cannot be claimed.
    assert!(
        store
            .due_deletion_jobs(at(1000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .claim_deletion_job(job.id, "r", at(1000), at(1060))
            .await
            .unwrap()
    );
}

/// A flag or ban committed after a user's deletion job exists would outlive the
/// job's REMOVE_FLAGS step: the store refuses it in the write transaction, even
/// when the caller checked (too early) that there was no job.
async fn no_flag_or_ban_lands_once_a_deletion_job_exists(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    store
        .create_deletion_job(
            new_job(4),
            audit(&admin(), 4, AuditAction::DeleteUser),
            at(0),
        )
        .await
        .unwrap();
    let flagged = store
        .upsert_flag(
            flag_by(1, 4, FlagReason::Spam),
            audit(&user(1), 4, AuditAction::FlagUser),
            at(1),
        )
        .await;
    assert_eq!(flagged.err().map(|e| e.reason), Some("USER_DELETED"));
    let banned = store
        .upsert_ban(
            NewBan {
                user_id: 4,
                reason: "spam".into(),
                banned_by: "admin:platform".into(),
                expires_at: None,
            },
            audit(&admin(), 4, AuditAction::BanUser),
            at(1),
        )
        .await;
    assert_eq!(banned.err().map(|e| e.reason), Some("USER_DELETED"));
    assert_eq!(store.flag_count(4).await.unwrap(), 0);
    assert!(store.get_ban(4).await.unwrap().is_none());
    // Only the job's own event was written.
    let kinds: Vec<&str> = store
        .events_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.kind())
        .collect();
    assert_eq!(kinds, ["USER_DELETION_STARTED"]);
}

on_both_backends!(
    no_flag_or_ban_lands_once_a_deletion_job_exists,
    one_deletion_job_per_user_even_when_racing,
    lease_claims_are_exclusive_and_expire,
    finishing_the_last_step_completes_the_job_and_emits_user_deleted,
);
