//! The domain's rules end to end over the store with fake peers: who may do
//! what, which targets are refused, dry runs, and what the audit log records.

use std::time::Duration;

use roster_kit::{Result, testing::Backend};
use roster_moderation::domain::{
    audit::{AuditAction, AuditQuery, RoleChange},
    bans::{BanFilter, BanInput, BanQuery, BanState},
    deletion::{DeleteOutcome, DeleteUserInput, DeletionOptions, StepKind},
    fields::{Note, Reason},
    flags::{FlagInput, FlagReason, FlagsQuery},
    ports::EventRepository,
};

use super::{Harness, admin, on_both_backends, start_time, user};

/// (step, service, counts when known) of a preview entry.
type PreviewRow<'a> = (StepKind, &'a str, Option<Vec<(String, i64)>>);

fn reason_of<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
    result.err().map(|e| e.reason).unwrap_or("OK")
}

fn flag(target: i64) -> FlagInput {
    FlagInput {
        user_id: target,
        reason: FlagReason::Spam,
        note: Note::parse("sells stuff", "note").unwrap(),
    }
}

fn ban(target: i64, expires_in: Option<u64>) -> BanInput {
    BanInput {
        user_id: target,
        reason: Reason::parse("spam", "reason").unwrap(),
        expires_at: expires_in.map(|s| start_time() + chrono::TimeDelta::seconds(s as i64)),
    }
}

fn delete(target: i64, dry_run: bool) -> DeleteUserInput {
    DeleteUserInput {
        user_id: target,
        options: DeletionOptions::default(),
        dry_run,
        reason: Reason::default(),
    }
}

async fn flag_rules(backend: Backend) {
    let h = Harness::new(backend, &[]).await;
    let m = &h.moderation;
    for id in [1, 2, 3, 4] {
        h.users.add(id, &format!("user-{id}"));
    }
    h.users.mark_deleted(3);
    h.roles.give(4, "BAN_USER");

    assert_eq!(
        reason_of(m.flag_user(&user(1), flag(1)).await),
        "INVALID_FIELD"
    );
    assert_eq!(
        reason_of(m.flag_user(&user(1), flag(99)).await),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        reason_of(m.flag_user(&user(1), flag(3)).await),
        "USER_DELETED"
    );

    let first = m.flag_user(&user(1), flag(2)).await.unwrap();
    assert!(first.created);
    let admin_flag = m.flag_user(&admin(), flag(2)).await.unwrap();
    assert_eq!(admin_flag.flag.flagger, "admin:platform");
    assert_eq!(admin_flag.flag_count, 2);
    assert_eq!(
        m.flagged_by_me(&user(1), &[2, 4, 2]).await.unwrap(),
        [(2, true), (4, false), (2, true)]
    );

    // Reading and clearing flags is for moderators.
    let query = FlagsQuery {
        user_id: 2,
        limit: 10,
        after: None,
    };
    assert_eq!(
        reason_of(m.list_flags(&user(1), &query).await),
        "PERMISSION_DENIED"
    );
    let (page, count) = m.list_flags(&user(4), &query).await.unwrap();
    assert_eq!((page.items.len(), page.more, count), (2, false, 2));
    assert_eq!(
        reason_of(m.clear_flags(&user(1), 2, Reason::default()).await),
        "PERMISSION_DENIED"
    );

    assert_eq!(m.unflag_user(&user(1), 2).await.unwrap().flag_count, 1);
    assert_eq!(
        reason_of(m.unflag_user(&user(1), 2).await),
        "FLAG_NOT_FOUND"
    );
    assert_eq!(
        m.clear_flags(&user(4), 2, Reason::default())
            .await
            .unwrap()
            .removed,
        1
    );

    // A user being deleted can no longer be flagged.
    m.delete_user(&admin(), delete(2, false)).await.unwrap();
    assert_eq!(
        reason_of(m.flag_user(&user(1), flag(2)).await),
        "USER_DELETED"
    );
}

async fn ban_rules_and_expiry_at_read_time(backend: Backend) {
    let h = Harness::new(backend, &[]).await;
    let m = &h.moderation;
    for id in [1, 2, 3, 5] {
        h.users.add(id, &format!("user-{id}"));
    }
    h.roles.give(1, "BAN_USER");
    h.roles.give(3, "EXEMPT_FROM_BAN");

    assert_eq!(
        reason_of(m.ban_user(&user(5), ban(2, None)).await),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        reason_of(m.ban_user(&admin(), ban(3, None)).await),
        "TARGET_EXEMPT"
    );
    assert_eq!(
        reason_of(m.ban_user(&user(1), ban(99, None)).await),
        "USER_NOT_FOUND"
    );
    let mut past = ban(2, None);
    past.expires_at = Some(start_time());
    assert_eq!(reason_of(m.ban_user(&user(1), past).await), "INVALID_FIELD");

    let banned = m.ban_user(&user(1), ban(2, Some(60))).await.unwrap();
    assert!(banned.created);
    assert_eq!(banned.ban.banned_by, "user:1");
    let again = m.ban_user(&user(1), ban(2, Some(120))).await.unwrap();
    assert!(!again.created);

    let active = BanQuery {
        filter: BanFilter::Active,
        limit: 10,
        after: None,
    };
    assert_eq!(m.list_bans(&user(1), &active).await.unwrap().items.len(), 1);
    // The expiry passes; nothing runs, and the ban no longer applies.
    h.clock.advance(Duration::from_secs(120));
    assert!(
        m.list_bans(&user(1), &active)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let read = m.get_ban(&user(1), 2).await.unwrap();
    assert_eq!(read.state_at(m.now()), BanState::Expired);
    assert_eq!(
        reason_of(m.unban_user(&user(1), 2, Reason::default()).await),
        "BAN_NOT_FOUND"
    );
    assert_eq!(reason_of(m.get_ban(&user(1), 5).await), "BAN_NOT_FOUND");

    // A new ban after expiry, then lifted.
    assert!(m.ban_user(&admin(), ban(2, None)).await.unwrap().created);
    let lifted = m
        .unban_user(&user(1), 2, Reason::parse("appeal", "reason").unwrap())
        .await
        .unwrap();
    assert_eq!(lifted.ban.state_at(m.now()), BanState::Lifted);
    assert_eq!(lifted.ban.lift_reason.as_deref(), Some("appeal"));
}

async fn delete_rules_and_dry_run(backend: Backend) {
    let h = Harness::new(backend, &["chat", "feed"]).await;
    let m = &h.moderation;
    for id in [1, 2, 3, 4, 5] {
        h.users.add(id, &format!("user-{id}"));
    }
    h.users.mark_deleted(5);
    h.roles.give(1, "EDIT_USER");
    h.roles.give(3, "EXEMPT_FROM_MODERATION");
    h.roles.give(4, "EDIT_USER");
    h.roles.give(4, "EXEMPT_FROM_MODERATION");
    h.files.add(2, 5);
    *h.participants[0].preview.lock().unwrap() =
        Some([("messages".to_owned(), 12)].into_iter().collect());
    m.flag_user(&user(3), flag(2)).await.unwrap();

    assert_eq!(
        reason_of(m.delete_user(&user(2), delete(3, false)).await),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        reason_of(m.delete_user(&user(1), delete(99, false)).await),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        reason_of(m.delete_user(&user(1), delete(5, false)).await),
        "USER_ALREADY_DELETED"
    );
    assert_eq!(
        reason_of(m.delete_user(&user(1), delete(3, true)).await),
        "TARGET_EXEMPT"
    );

    // A dry run answers per service, touching nothing.
    let events_before = h.store.events_after(0, 100).await.unwrap().len();
    let DeleteOutcome::Preview(preview) = m.delete_user(&user(1), delete(2, true)).await.unwrap()
    else {
        panic!("a dry run answers a preview");
    };
    let entries: Vec<PreviewRow> = preview
        .entries
        .iter()
        .map(|e| {
            (
                e.step,
                e.service.as_str(),
                e.would_erase.clone().map(|c| c.into_iter().collect()),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                StepKind::TombstoneUser,
                "users",
                Some(vec![("user_records".into(), 1)])
            ),
            (
                StepKind::RevokeGrants,
                "roles",
                Some(vec![("role_grants".into(), 0)])
            ),
            (
                StepKind::EraseFiles,
                "files",
                Some(vec![("files".into(), 5)])
            ),
            (
                StepKind::RemoveFlags,
                "moderation",
                Some(vec![
                    ("flags_against_user".into(), 1),
                    ("flags_by_user".into(), 0)
                ])
            ),
            (
                StepKind::NotifyParticipant,
                "chat",
                Some(vec![("messages".into(), 12)])
            ),
            (StepKind::NotifyParticipant, "feed", None),
        ]
    );
    assert_eq!(
        h.store.events_after(0, 100).await.unwrap().len(),
        events_before
    );
    assert!(h.log.calls().is_empty());

    // An exempt moderator may delete an exempt user; a second request is refused.
    let DeleteOutcome::Started(job) = m.delete_user(&user(4), delete(3, false)).await.unwrap()
    else {
        panic!("not a dry run");
    };
    assert_eq!(job.requested_by, "user:4");
    assert_eq!(job.request_id, "req-user-4");
    assert_eq!(
        reason_of(m.delete_user(&admin(), delete(3, false)).await),
        "USER_ALREADY_DELETED"
    );
    assert_eq!(
        reason_of(m.delete_user(&admin(), delete(3, true)).await),
        "USER_ALREADY_DELETED"
    );
    // Reading jobs is for EDIT_USER holders.
    assert_eq!(
        reason_of(m.deletion_job(&user(2), job.id).await),
        "PERMISSION_DENIED"
    );
    assert_eq!(m.deletion_job(&user(1), job.id).await.unwrap().id, job.id);
    assert_eq!(
        reason_of(m.deletion_job(&user(1), job.id + 100).await),
        "DELETION_JOB_NOT_FOUND"
    );
}

async fn the_audit_log_records_each_action_once(backend: Backend) {
    let h = Harness::new(backend, &[]).await;
    let m = &h.moderation;
    for id in [1, 2] {
        h.users.add(id, &format!("user-{id}"));
    }
    h.roles.give(1, "BAN_USER");
    m.flag_user(&user(1), flag(2)).await.unwrap();
    m.ban_user(&user(1), ban(2, None)).await.unwrap();
    m.unban_user(&user(1), 2, Reason::parse("mistake", "reason").unwrap())
        .await
        .unwrap();
    let change = |cursor| RoleChange {
        granted: true,
        user_id: 2,
        role: "channel-moderator".into(),
        scope: "channel:general".into(),
        actor: "admin:platform".into(),
        occurred_at: start_time(),
        cursor,
    };
    assert!(m.record_role_change(change(41)).await.unwrap());
    assert!(
        !m.record_role_change(change(41)).await.unwrap(),
        "replays are skipped"
    );
    assert_eq!(m.role_stream_position().await.unwrap(), 41);

    let query = AuditQuery {
        target_user_id: Some(2),
        limit: 10,
        ..AuditQuery::default()
    };
    assert_eq!(
        reason_of(m.list_audit(&user(2), &query).await),
        "PERMISSION_DENIED"
    );
    let page = m.list_audit(&user(1), &query).await.unwrap();
    let actions: Vec<AuditAction> = page.items.iter().map(|e| e.record.action).collect();
    assert_eq!(actions.len(), 4);
    assert!(actions.contains(&AuditAction::GrantRole));
    let unban = page
        .items
        .iter()
        .find(|e| e.record.action == AuditAction::UnbanUser)
        .unwrap();
    assert_eq!(unban.record.actor, "user:1");
    assert_eq!(unban.record.reason, "mistake");
    assert_eq!(unban.record.request_id, "req-user-1");
}

on_both_backends!(
    flag_rules,
    ban_rules_and_expiry_at_read_time,
    delete_rules_and_dry_run,
    the_audit_log_records_each_action_once,
);
