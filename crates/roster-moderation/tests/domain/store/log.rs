//! The outbox and the audit log in the store: order, cursors, filters, paging.

use roster_kit::testing::Backend;
use roster_moderation::domain::{
    audit::{AuditAction, AuditPosition, AuditQuery, AuditRecord, ExternalAction},
    bans::NewBan,
    events::ModerationEvent,
    flags::FlagReason,
    ports::{AuditRepository, BanRepository, EventRepository, FlagRepository},
};

use super::{at, audit, flag_by};
use crate::{admin, fresh_store, on_both_backends, user};

async fn outbox_is_read_back_in_order_from_any_cursor(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let a = audit(&user(1), 0, AuditAction::FlagUser);
    for target in 10..15 {
        store
            .upsert_flag(flag_by(1, target, FlagReason::Spam), a.clone(), at(target))
            .await
            .unwrap();
    }
    let all = store.events_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        all.iter().map(|e| e.event.user_id()).collect::<Vec<_>>(),
        [10, 11, 12, 13, 14]
    );
    assert!(all.iter().all(|e| e.actor == "user:1"));
    assert!(matches!(all[0].event, ModerationEvent::UserFlagged { .. }));
    assert_eq!(all[2].occurred_at, at(12));

    let middle = store.events_after(all[1].seq, 2).await.unwrap();
    assert_eq!(
        middle.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [all[2].seq, all[3].seq]
    );
    assert!(store.events_after(all[4].seq, 10).await.unwrap().is_empty());
}

async fn audit_entries_filter_and_page_newest_first(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    // Five actions at increasing times: flags by users 1 and 2, a ban by admin.
    store
        .upsert_flag(
            flag_by(1, 7, FlagReason::Spam),
            audit(&user(1), 7, AuditAction::FlagUser),
            at(0),
        )
        .await
        .unwrap();
    store
        .upsert_flag(
            flag_by(2, 7, FlagReason::Spam),
            audit(&user(2), 7, AuditAction::FlagUser),
            at(10),
        )
        .await
        .unwrap();
    store
        .upsert_flag(
            flag_by(1, 8, FlagReason::Spam),
            audit(&user(1), 8, AuditAction::FlagUser),
            at(20),
        )
        .await
        .unwrap();
    store
        .upsert_ban(
            NewBan {
                user_id: 7,
                reason: "r".into(),
                banned_by: "admin:platform".into(),
                expires_at: None,
            },
            audit(&admin(), 7, AuditAction::BanUser),
            at(30),
        )
        .await
        .unwrap();
    store
        .remove_flag(
            7,
            "user:2",
            audit(&user(2), 7, AuditAction::UnflagUser),
            at(40),
        )
        .await
        .unwrap();

    let base = AuditQuery {
        limit: 10,
        ..AuditQuery::default()
    };
    let run = |query: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .list_audit(&query)
                .await
                .unwrap()
                .into_iter()
                .map(|e| {
                    (
                        e.record.actor,
                        e.record.target_user_id,
                        e.record.action.as_str(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let all = run(base.clone()).await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], ("user:2".into(), 7, "UNFLAG_USER"));
    assert_eq!(all[4], ("user:1".into(), 7, "FLAG_USER"));

    let on_7 = run(AuditQuery {
        target_user_id: Some(7),
        ..base.clone()
    })
    .await;
    assert_eq!(on_7.len(), 4);
    let by_user_1 = run(AuditQuery {
        actor: Some("user:1".into()),
        ..base.clone()
    })
    .await;
    assert_eq!(by_user_1.iter().map(|e| e.1).collect::<Vec<_>>(), [8, 7]);
    let bans = run(AuditQuery {
        action: Some(AuditAction::BanUser),
        ..base.clone()
    })
    .await;
    assert_eq!(bans, [("admin:platform".into(), 7, "BAN_USER")]);
    let window = run(AuditQuery {
        start: Some(at(10)),
        end: Some(at(30)),
        ..base.clone()
    })
    .await;
    assert_eq!(
        window.iter().map(|e| e.1).collect::<Vec<_>>(),
        [8, 7],
        "start inclusive, end exclusive"
    );

    // Paging two at a time covers everything once, newest first.
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let rows = store
            .list_audit(&AuditQuery {
                limit: 2,
                after,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        let more = rows.len() > 2;
        let page: Vec<_> = rows.into_iter().take(2).collect();
        ids.extend(page.iter().map(|e| e.id));
        if !more {
            break;
        }
        after = page.last().map(AuditPosition::of);
    }
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));

    // Entries carry the request id, and changes their details.
    let entries = store.list_audit(&base).await.unwrap();
    assert_eq!(entries[1].record.request_id, "req-admin");
    assert_eq!(
        entries[1].record.details.get("created").map(String::as_str),
        Some("true")
    );

    // External actions are recorded once per stream position.
    let grant = AuditRecord::new(&admin(), 7, AuditAction::GrantRole, "");
    assert!(
        store
            .record_external_action("roles", 12, grant.clone(), at(50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_external_action("roles", 12, grant.clone(), at(50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_external_action("roles", 3, grant.clone(), at(50))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_external_action("roles", 13, grant, at(51))
            .await
            .unwrap()
    );
    assert_eq!(store.stream_position("roles").await.unwrap(), 13);
    assert_eq!(store.stream_position("files").await.unwrap(), 0);

    // A batch records only the actions past the stored position, and moves
    // it to the batch's end.
    let seen = |position| ExternalAction {
        position,
        record: AuditRecord::new(&admin(), 8, AuditAction::RevokeRole, ""),
        at: at(60),
    };
    let recorded = store
        .record_external_actions("roles", 17, vec![seen(12), seen(14), seen(16)])
        .await
        .unwrap();
    assert_eq!(recorded, 2);
    assert_eq!(store.stream_position("roles").await.unwrap(), 17);
    let revokes = AuditQuery {
        action: Some(AuditAction::RevokeRole),
        ..base.clone()
    };
    assert_eq!(store.list_audit(&revokes).await.unwrap().len(), 2);
    assert_eq!(
        store
            .record_external_actions("roles", 17, vec![seen(16)])
            .await
            .unwrap(),
        0
    );
}

on_both_backends!(
    outbox_is_read_back_in_order_from_any_cursor,
    audit_entries_filter_and_page_newest_first,
);
