//! FlagUser, UnflagUser, IsFlaggedByMe, ListFlags, ClearFlags.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use super::{
    applied, create_role, flag, flag_request, get_user, grant, list_flags, moderation_admin,
    moderation_as, next, roles_admin,
};
use crate::helpers::{TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    one_flag_per_flagger_counted_on_the_user,
    reading_and_clearing_flags_needs_ban_user,
    invalid_flag_requests_name_the_field_and_change_nothing,
);

async fn one_flag_per_flagger_counted_on_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let carol = create(&mut admin, "carol", "Carol").await;
    let mut user_events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let mut as_bob = moderation_as(&app, &bob).await;
    let mut as_carol = moderation_as(&app, &carol).await;
    let mut as_jane = moderation_as(&app, &jane).await;

    let first = as_bob
        .flag_user(flag_request(
            jane.id,
            pb::FlagReason::Spam,
            "sells followers",
        ))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(first.created);
    assert_eq!(first.flag_count, 1);
    let flag = first.flag.clone().unwrap_or_default();
    assert_eq!(
        (flag.user_id, flag.flagger.as_str(), flag.flagger_user_id),
        (jane.id, format!("user:{}", bob.id).as_str(), bob.id)
    );
    assert_eq!(flag.reason(), pb::FlagReason::Spam);
    applied(&app, &first.event_cursor).await;
    assert_eq!(get_user(&app, jane.id).await.flag_count, 1);

    // Flagging again replaces the reason and note: still one flag.
    let again = as_bob
        .flag_user(flag_request(jane.id, pb::FlagReason::Harassment, "insults"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(!again.created);
    assert_eq!(again.flag_count, 1);
    let replaced = again.flag.unwrap_or_default();
    assert_eq!(replaced.reason(), pb::FlagReason::Harassment);
    assert_eq!(replaced.note, "insults");
    assert_eq!(replaced.created_at, flag.created_at);

    // Another flagger; an unspecified reason is stored as OTHER.
    let second = as_carol
        .flag_user(flag_request(jane.id, pb::FlagReason::Unspecified, ""))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(second.created);
    assert_eq!(second.flag_count, 2);
    assert_eq!(
        second.flag.unwrap_or_default().reason(),
        pb::FlagReason::Other
    );
    applied(&app, &second.event_cursor).await;
    assert_eq!(get_user(&app, jane.id).await.flag_count, 2);

    // Nobody flags itself, nor a user that does not exist.
    let own = expect_err(
        as_jane
            .flag_user(flag_request(jane.id, pb::FlagReason::Spam, ""))
            .await,
    );
    assert_refused(&own, Code::InvalidArgument, "INVALID_FIELD");
    assert_eq!(violated_fields(&own), ["user_id"]);
    let unknown = expect_err(
        as_bob
            .flag_user(flag_request(424_242, pb::FlagReason::Spam, ""))
            .await,
    );
    assert_refused(&unknown, Code::NotFound, "USER_NOT_FOUND");

    // Each caller learns what it flagged itself, in request order.
    let answers = as_bob
        .is_flagged_by_me(pb::IsFlaggedByMeRequest {
            user_ids: vec![jane.id, carol.id, jane.id, 424_242],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .results;
    let answers: Vec<(i64, bool)> = answers.iter().map(|a| (a.user_id, a.flagged)).collect();
    assert_eq!(
        answers,
        [
            (jane.id, true),
            (carol.id, false),
            (jane.id, true),
            (424_242, false)
        ]
    );

    // Withdrawing: once; a second time there is nothing to withdraw.
    let withdrawn = as_bob
        .unflag_user(pb::UnflagUserRequest { user_id: jane.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(withdrawn.flag_count, 1);
    assert_eq!(
        withdrawn.flag.map(|f| f.flagger),
        Some(format!("user:{}", bob.id))
    );
    let twice = expect_err(
        as_bob
            .unflag_user(pb::UnflagUserRequest { user_id: jane.id })
            .await,
    );
    assert_refused(&twice, Code::NotFound, "FLAG_NOT_FOUND");
    applied(&app, &withdrawn.event_cursor).await;
    assert_eq!(get_user(&app, jane.id).await.flag_count, 1);
    let after = as_bob
        .is_flagged_by_me(pb::IsFlaggedByMeRequest {
            user_ids: vec![jane.id],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .results;
    assert!(!after[0].flagged);

    // The user service's own stream told every change of the count.
    let mut counts = Vec::new();
    while counts.last() != Some(&1) || counts.len() < 3 {
        let event = next(&mut user_events).await;
        let user = event.user.clone().unwrap_or_default();
        if event.kind() == pb::UserEventKind::FlagCountChanged
            && user.id == jane.id
            && counts.last() != Some(&user.flag_count)
        {
            counts.push(user.flag_count);
        }
    }
    assert_eq!(counts, [1, 2, 1]);
}

async fn reading_and_clearing_flags_needs_ban_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_admin(&app).await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let moderator = create(&mut admin, "moderator", "Moderator").await;
    let plain = create(&mut admin, "plain", "Plain").await;
    create_role(&mut roles, "flag-reviewer", &["BAN_USER"]).await;
    grant(&app, &mut roles, &moderator, "flag-reviewer").await;
    let mut as_plain = moderation_as(&app, &plain).await;
    let mut as_moderator = moderation_as(&app, &moderator).await;
    flag(&mut as_plain, jane.id).await;
    flag(&mut moderation_admin(&app).await, jane.id).await;

    // Without BAN_USER: refused, and nothing changes.
    let listing = expect_err(as_plain.list_flags(list_flags(jane.id)).await);
    assert_refused(&listing, Code::PermissionDenied, "PERMISSION_DENIED");
    let clearing = expect_err(
        as_plain
            .clear_flags(pb::ClearFlagsRequest {
                user_id: jane.id,
                reason: String::new(),
            })
            .await,
    );
    assert_refused(&clearing, Code::PermissionDenied, "PERMISSION_DENIED");

    // With it: the flags, newest first, a page at a time.
    let first = as_moderator
        .list_flags(pb::ListFlagsRequest {
            user_id: jane.id,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(first.flag_count, 2);
    assert_eq!(first.flags.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = as_moderator
        .list_flags(pb::ListFlagsRequest {
            user_id: jane.id,
            page_size: 1,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(second.flags.len(), 1);
    assert!(second.next_page_token.is_empty());
    let flaggers: Vec<String> = [&first.flags[0], &second.flags[0]]
        .iter()
        .map(|f| f.flagger.clone())
        .collect();
    assert_eq!(
        flaggers,
        ["admin:tests".to_owned(), format!("user:{}", plain.id)]
    );
    // A token resumes only the listing it came from.
    let other_user = expect_err(
        as_moderator
            .list_flags(pb::ListFlagsRequest {
                user_id: plain.id,
                page_size: 1,
                page_token: first.next_page_token,
            })
            .await,
    );
    assert_refused(&other_user, Code::InvalidArgument, "PAGE_TOKEN_INVALID");

    let cleared = as_moderator
        .clear_flags(pb::ClearFlagsRequest {
            user_id: jane.id,
            reason: "reviewed: no violation".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(cleared.removed_count, 2);
    applied(&app, &cleared.event_cursor).await;
    assert_eq!(get_user(&app, jane.id).await.flag_count, 0);
    // Clearing nothing succeeds and emits nothing.
    let nothing = as_moderator
        .clear_flags(pb::ClearFlagsRequest {
            user_id: jane.id,
            reason: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        (nothing.removed_count, nothing.event_cursor.as_str()),
        (0, "")
    );
}

async fn invalid_flag_requests_name_the_field_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let bob = create(&mut admin, "bob", "Bob").await;
    let mut as_bob = moderation_as(&app, &bob).await;

    let refusals = [
        (
            expect_err(
                as_bob
                    .flag_user(flag_request(0, pb::FlagReason::Spam, ""))
                    .await,
            ),
            "user_id",
        ),
        (
            expect_err(
                as_bob
                    .flag_user(flag_request(
                        jane.id,
                        pb::FlagReason::Spam,
                        &"x".repeat(1001),
                    ))
                    .await,
            ),
            "note",
        ),
        (
            expect_err(
                as_bob
                    .flag_user(pb::FlagUserRequest {
                        user_id: jane.id,
                        reason: 99,
                        note: String::new(),
                    })
                    .await,
            ),
            "reason",
        ),
        (
            expect_err(
                as_bob
                    .is_flagged_by_me(pb::IsFlaggedByMeRequest { user_ids: vec![] })
                    .await,
            ),
            "user_ids",
        ),
        (
            expect_err(
                as_bob
                    .is_flagged_by_me(pb::IsFlaggedByMeRequest {
                        user_ids: (1..=101).collect(),
                    })
                    .await,
            ),
            "user_ids",
        ),
        (
            expect_err(
                as_bob
                    .is_flagged_by_me(pb::IsFlaggedByMeRequest {
                        user_ids: vec![jane.id, -2],
                    })
                    .await,
            ),
            "user_ids[1]",
        ),
        (
            expect_err(
                moderation_admin(&app)
                    .await
                    .list_flags(pb::ListFlagsRequest {
                        user_id: jane.id,
                        page_size: 101,
                        page_token: String::new(),
                    })
                    .await,
            ),
            "page_size",
        ),
    ];
    for (status, field) in refusals {
        assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), [field], "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }
    // A hundred ids is the most, and fine.
    as_bob
        .is_flagged_by_me(pb::IsFlaggedByMeRequest {
            user_ids: (1..=100).collect(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    let flags = moderation_admin(&app)
        .await
        .list_flags(list_flags(jane.id))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!((flags.flag_count, flags.flags.len()), (0, 0));
}
