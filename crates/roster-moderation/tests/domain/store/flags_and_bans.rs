//! Flags and bans in the store: idempotency, counts, state filters at read time.

use chrono::{DateTime, Utc};
use roster_kit::testing::Backend;
use roster_moderation::domain::{
    audit::AuditAction,
    bans::{Ban, BanFilter, BanPosition, BanQuery, NewBan},
    flags::{FlagPosition, FlagReason, FlagsQuery},
    ports::{BanRepository, EventRepository, FlagRepository},
};

use super::{at, audit, flag_by};
use crate::{admin, fresh_store, on_both_backends, user};

async fn flags_are_one_per_flagger_and_counted(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let a = audit(&user(1), 9, AuditAction::FlagUser);

    let first = store
        .upsert_flag(flag_by(1, 9, FlagReason::Spam), a.clone(), at(0))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.flag_count, 1);
    let again = store
        .upsert_flag(flag_by(1, 9, FlagReason::Harassment), a.clone(), at(5))
        .await
        .unwrap();
    assert!(
        !again.created,
        "a second flag by the same flagger updates it"
    );
    assert_eq!(again.flag_count, 1);
    assert_eq!(again.flag.reason, FlagReason::Harassment);
    assert_eq!(again.flag.created_at, first.flag.created_at);
    assert_eq!(again.flag.updated_at, at(5));

    let other = store
        .upsert_flag(flag_by(2, 9, FlagReason::Spam), a.clone(), at(10))
        .await
        .unwrap();
    assert_eq!(other.flag_count, 2);
    store
        .upsert_flag(flag_by(2, 8, FlagReason::Spam), a.clone(), at(11))
        .await
        .unwrap();

    assert_eq!(
        store
            .flagged_by("user:2", &[9, 8, 7])
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [8, 9]
    );
    let tally = store.flag_tally(2).await.unwrap();
    assert_eq!((tally.by_user, tally.against_user), (2, 0));

    // Newest first, paged.
    let query = |after| FlagsQuery {
        user_id: 9,
        limit: 1,
        after,
    };
    let page1 = store.list_flags(&query(None)).await.unwrap();
    assert_eq!(page1.len(), 2, "limit + 1 tells that more follow");
    assert_eq!(page1[0].flagger, "user:2");
    let page2 = store
        .list_flags(&query(Some(FlagPosition::of(&page1[0]))))
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    assert_eq!(page2[0].flagger, "user:1");

    let removed = store
        .remove_flag(9, "user:1", a.clone(), at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.flag_count, 1);
    assert!(
        store
            .remove_flag(9, "user:1", a.clone(), at(21))
            .await
            .unwrap()
            .is_none()
    );

    let cleared = store.clear_flags(9, a.clone(), at(30)).await.unwrap();
    assert_eq!(cleared.removed, 1);
    assert!(cleared.event_seq.is_some());
    let nothing = store.clear_flags(9, a, at(31)).await.unwrap();
    assert_eq!((nothing.removed, nothing.event_seq), (0, None));
    assert_eq!(store.flag_count(9).await.unwrap(), 0);

    // Every change carried the target's absolute count.
    let counts: Vec<(i64, Option<i64>)> = store
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.user_id(), e.event.flag_count()))
        .collect();
    assert_eq!(
        counts,
        [
            (9, Some(1)),
            (9, Some(1)),
            (9, Some(2)),
            (8, Some(1)),
            (9, Some(1)),
            (9, Some(0))
        ]
    );
}

async fn bans_upsert_lift_and_filter_by_state_at_read_time(backend: Backend) {
    let (store, _db) = fresh_store(backend).await;
    let a = audit(&admin(), 0, AuditAction::BanUser);
    let ban = |user_id: i64, expires_at: Option<DateTime<Utc>>| NewBan {
        user_id,
        reason: format!("reason {user_id}"),
        banned_by: "admin:platform".into(),
        expires_at,
    };

    let permanent = store
        .upsert_ban(ban(1, None), a.clone(), at(0))
        .await
        .unwrap();
    assert!(permanent.created);
    let expiring = store
        .upsert_ban(ban(2, Some(at(60))), a.clone(), at(1))
        .await
        .unwrap();
    assert!(expiring.created);
    store
        .upsert_ban(ban(3, None), a.clone(), at(2))
        .await
        .unwrap();
    let lifted = store
        .lift_ban(3, "user:5", "appeal", a.clone(), at(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lifted.ban.lifted_by.as_deref(), Some("user:5"));
    assert!(
        store
            .lift_ban(3, "user:5", "again", a.clone(), at(4))
            .await
            .unwrap()
            .is_none()
    );

    // Banning a banned user updates the same ban.
    let updated = store
        .upsert_ban(ban(1, Some(at(600))), a.clone(), at(10))
        .await
        .unwrap();
    assert!(!updated.created);
    assert_eq!(updated.ban.banned_at, at(0));
    assert_eq!(updated.ban.expires_at, Some(at(600)));

    let users = |bans: Vec<Ban>| bans.into_iter().map(|b| b.user_id).collect::<Vec<_>>();
    let list = |filter, now| {
        let store = store.clone();
        async move {
            let query = BanQuery {
                filter,
                limit: 10,
                after: None,
            };
            users(store.list_bans(&query, now).await.unwrap())
        }
    };
    assert_eq!(list(BanFilter::Active, at(20)).await, [2, 1]);
    assert_eq!(list(BanFilter::Expired, at(20)).await, Vec::<i64>::new());
    // At its expiry the ban stops applying, with nothing having run.
    assert_eq!(list(BanFilter::Active, at(60)).await, [1]);
    assert_eq!(list(BanFilter::Expired, at(60)).await, [2]);
    assert_eq!(list(BanFilter::Lifted, at(60)).await, [3]);
    assert_eq!(list(BanFilter::All, at(60)).await, [3, 2, 1]);

    // Paging through all, one at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let query = BanQuery {
            filter: BanFilter::All,
            limit: 1,
            after,
        };
        let rows = store.list_bans(&query, at(60)).await.unwrap();
        seen.push(rows[0].user_id);
        if rows.len() < 2 {
            break;
        }
        after = Some(BanPosition::of(&rows[0]));
    }
    assert_eq!(seen, [3, 2, 1]);

    // An expired ban is replaced by a new one.
    let renewed = store.upsert_ban(ban(2, None), a, at(70)).await.unwrap();
    assert!(renewed.created);
    assert_eq!(renewed.ban.banned_at, at(70));
}

on_both_backends!(
    flags_are_one_per_flagger_and_counted,
    bans_upsert_lift_and_filter_by_state_at_read_time,
);
