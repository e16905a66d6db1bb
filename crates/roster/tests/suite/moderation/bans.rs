//! BanUser, UnbanUser, GetBan, ListBans, and what a ban does in every service.

use std::time::Duration;

use chrono::Utc;
use roster::Service;
use roster_kit::{config::Secret, testing::Backend};
use roster_moderation::{
    domain::{
        audit::{AuditAction, AuditRecord},
        bans::NewBan,
        ports::BanRepository,
    },
    store::Store,
};
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient, role_service_client::RoleServiceClient,
    user_service_client::UserServiceClient,
};
use roster_users::domain::login::LoginCredential;
use tonic::{Code, Status, transport::Channel};

use super::{
    applied, ban_request, bearer, create_role, get_user, grant, moderation_admin, moderation_as,
    moderation_with, next, roles_admin, session_of,
};
use crate::helpers::{Apart, TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    banning_needs_ban_user_and_spares_exempt_users,
    a_banned_user_is_refused_by_every_service_in_one_process_and_apart,
    an_expiry_ends_a_ban_when_read_with_no_job_running,
    bans_list_by_state_newest_first_a_page_at_a_time,
);

const LOGIN_SECRET: &str = "moderation-tests-login-secret";

async fn secured(backend: Backend) -> TestApp {
    TestApp::spawn_configured(backend, |settings| {
        settings.users.login_secret = Some(Secret::new(LOGIN_SECRET));
    })
    .await
}

/// A native Login of `name` with a credential made as a backend makes it.
async fn login(app: &TestApp, name: &str) -> Result<(), Status> {
    let expires_at = Utc::now().timestamp() + 300;
    app.anonymous()
        .await
        .login(pb::LoginRequest {
            name: name.into(),
            auth_token: LoginCredential::sign(LOGIN_SECRET, name, expires_at),
            auth_expires_at: expires_at,
            ..Default::default()
        })
        .await
        .map(|_| ())
}

fn in_an_hour() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: Utc::now().timestamp() + 3600,
        nanos: 0,
    }
}

/// One call with `token` to each service served on `channel` (the user
/// service only when it is there); the answers, in order.
async fn every_service(channel: &Channel, token: &str, users: bool) -> Vec<Result<(), Status>> {
    let mut answers = Vec::new();
    if users {
        answers.push(
            UserServiceClient::with_interceptor(channel.clone(), bearer(token))
                .get_user(pb::GetUserRequest {
                    user: Some(pb::get_user_request::User::Name("bob".into())),
                })
                .await
                .map(|_| ()),
        );
    }
    answers.push(
        RoleServiceClient::with_interceptor(channel.clone(), bearer(token))
            .list_permissions(pb::ListPermissionsRequest {})
            .await
            .map(|_| ()),
    );
    answers.push(
        FileServiceClient::with_interceptor(channel.clone(), bearer(token))
            .list_files(pb::ListFilesRequest::default())
            .await
            .map(|_| ()),
    );
    answers.push(
        moderation_with(channel.clone(), token)
            .is_flagged_by_me(pb::IsFlaggedByMeRequest { user_ids: vec![1] })
            .await
            .map(|_| ()),
    );
    answers
}

fn assert_all_ok(answers: &[Result<(), Status>]) {
    for answer in answers {
        assert!(answer.is_ok(), "{answer:?}");
    }
}

fn assert_all_banned(answers: &[Result<(), Status>]) {
    assert!(answers.len() >= 3);
    for answer in answers {
        match answer {
            Ok(()) => panic!("a banned user's session was accepted"),
            Err(status) => assert_refused(status, Code::PermissionDenied, "USER_BANNED"),
        }
    }
}

async fn banning_needs_ban_user_and_spares_exempt_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_admin(&app).await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let plain = create(&mut admin, "plain", "Plain").await;
    let moderator = create(&mut admin, "moderator", "Moderator").await;
    let boss = create(&mut admin, "boss", "Super Moderator").await;
    create_role(&mut roles, "banner", &["BAN_USER"]).await;
    grant(&app, &mut roles, &moderator, "banner").await;
    grant(&app, &mut roles, &boss, "super-moderator").await;
    let mut as_plain = moderation_as(&app, &plain).await;
    let mut as_moderator = moderation_as(&app, &moderator).await;
    let mut as_admin = moderation_admin(&app).await;
    let mut user_events = admin
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();

    // Without BAN_USER every ban call is refused.
    for status in [
        expect_err(as_plain.ban_user(ban_request(jane.id, "spam")).await),
        expect_err(
            as_plain
                .unban_user(pb::UnbanUserRequest {
                    user_id: jane.id,
                    reason: String::new(),
                })
                .await,
        ),
        expect_err(
            as_plain
                .get_ban(pb::GetBanRequest { user_id: jane.id })
                .await,
        ),
        expect_err(as_plain.list_bans(pb::ListBansRequest::default()).await),
    ] {
        assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    }
    // A holder of EXEMPT_FROM_BAN is refused to everyone, admins included.
    for client in [&mut as_moderator, &mut as_admin] {
        let status = expect_err(client.ban_user(ban_request(boss.id, "spam")).await);
        assert_refused(&status, Code::PermissionDenied, "TARGET_EXEMPT");
    }
    let unknown = expect_err(as_moderator.ban_user(ban_request(424_242, "spam")).await);
    assert_refused(&unknown, Code::NotFound, "USER_NOT_FOUND");
    // None of that banned anyone.
    let never = expect_err(
        as_admin
            .get_ban(pb::GetBanRequest { user_id: jane.id })
            .await,
    );
    assert_refused(&never, Code::NotFound, "BAN_NOT_FOUND");
    let listed = as_admin
        .list_bans(pb::ListBansRequest {
            filter: pb::BanFilter::All.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(listed.bans.is_empty());

    let banned = as_moderator
        .ban_user(ban_request(jane.id, "spam"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(banned.created);
    let ban = banned.ban.unwrap_or_default();
    assert_eq!(ban.state(), pb::BanState::Active);
    assert_eq!(ban.banned_by, format!("user:{}", moderator.id));
    assert_eq!(ban.expires_at, None);
    // Banning again changes the same ban.
    let again = as_moderator
        .ban_user(pb::BanUserRequest {
            user_id: jane.id,
            reason: "spam, again".into(),
            expires_at: Some(in_an_hour()),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(!again.created);
    applied(&app, &again.event_cursor).await;
    let read = as_moderator
        .get_ban(pb::GetBanRequest { user_id: jane.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        (read.reason.as_str(), read.banned_at, read.state()),
        ("spam, again", ban.banned_at, pb::BanState::Active)
    );
    let shown = get_user(&app, jane.id).await;
    assert!(shown.is_global_banned);
    assert!(read.expires_at.is_some());
    assert_eq!(shown.ban_expires_at, read.expires_at);

    let lifted = as_moderator
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: "appeal granted".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let lifted_ban = lifted.ban.unwrap_or_default();
    assert_eq!(lifted_ban.state(), pb::BanState::Lifted);
    assert_eq!(lifted_ban.lift_reason, "appeal granted");
    assert_eq!(lifted_ban.lifted_by, format!("user:{}", moderator.id));
    let twice = expect_err(
        as_moderator
            .unban_user(pb::UnbanUserRequest {
                user_id: jane.id,
                reason: String::new(),
            })
            .await,
    );
    assert_refused(&twice, Code::NotFound, "BAN_NOT_FOUND");
    applied(&app, &lifted.event_cursor).await;
    let shown = get_user(&app, jane.id).await;
    assert!(!shown.is_global_banned);
    assert_eq!(shown.ban_expires_at, None);

    // The user service's own stream: banned (twice: placed, changed), then unbanned.
    let mut kinds = Vec::new();
    while kinds.last() != Some(&pb::UserEventKind::Unbanned) {
        let event = next(&mut user_events).await;
        if event.user.as_ref().is_some_and(|u| u.id == jane.id)
            && matches!(
                event.kind(),
                pb::UserEventKind::Banned | pb::UserEventKind::Unbanned
            )
        {
            assert_eq!(
                event.user.as_ref().map(|u| u.is_global_banned),
                Some(event.kind() == pb::UserEventKind::Banned)
            );
            kinds.push(event.kind());
        }
    }
    assert_eq!(
        kinds,
        [
            pb::UserEventKind::Banned,
            pb::UserEventKind::Banned,
            pb::UserEventKind::Unbanned
        ]
    );
}

async fn a_banned_user_is_refused_by_every_service_in_one_process_and_apart(backend: Backend) {
    let app = secured(backend).await;
    let apart = Apart::spawn(&app, &[Service::Roles, Service::Files, Service::Moderation]).await;
    let mut admin = app.admin().await;
    create(&mut admin, "bob", "Bob").await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let token = session_of(&app, &jane);
    let here = app.channel().await;
    let there = Channel::from_shared(apart.address.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_all_ok(&every_service(&here, &token, true).await);
    assert_all_ok(&every_service(&there, &token, false).await);
    login(&app, "jane")
        .await
        .unwrap_or_else(|s| panic!("before the ban: {s:?}"));

    let banned = moderation_admin(&app)
        .await
        .ban_user(pb::BanUserRequest {
            user_id: jane.id,
            reason: "spam".into(),
            expires_at: Some(in_an_hour()),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    applied(&app, &banned.event_cursor).await;

    let status = login(&app, "jane").await.err();
    assert_refused(
        &status.unwrap_or_else(|| panic!("a banned user logged in")),
        Code::PermissionDenied,
        "USER_BANNED",
    );
    assert_all_banned(&every_service(&here, &token, true).await);
    assert_all_banned(&every_service(&there, &token, false).await);

    // Lifting the ban lets the same session back in, everywhere.
    let lifted = moderation_with(there.clone(), &app.admin_token())
        .unban_user(pb::UnbanUserRequest {
            user_id: jane.id,
            reason: "appeal".into(),
        })
        .await
        .unwrap_or_else(|s| panic!("unbanning through the other process: {s:?}"))
        .into_inner();
    applied(&app, &lifted.event_cursor).await;
    assert_all_ok(&every_service(&here, &token, true).await);
    assert_all_ok(&every_service(&there, &token, false).await);
    login(&app, "jane")
        .await
        .unwrap_or_else(|s| panic!("after the ban: {s:?}"));
}

/// Nothing runs when a ban expires: every service compares the expiry with the
/// time it reads it. A ban with an expiry ahead applies now; one whose expiry
/// has passed no longer does. The API refuses to place a ban that has already
/// expired, so the expired one is placed by a store whose clock reads two hours
/// ago — as a ban placed then reads today, on every service.
async fn an_expiry_ends_a_ban_when_read_with_no_job_running(backend: Backend) {
    let app = secured(backend).await;
    let mut admin = app.admin().await;
    create(&mut admin, "bob", "Bob").await;
    let jane = create(&mut admin, "jane", "Jane").await;
    let john = create(&mut admin, "john", "John").await;
    let mut moderation = moderation_admin(&app).await;

    // Already expired: refused, naming the field, and nothing is recorded.
    let past = prost_types::Timestamp {
        seconds: Utc::now().timestamp() - 60,
        nanos: 0,
    };
    let status = expect_err(
        moderation
            .ban_user(pb::BanUserRequest {
                user_id: jane.id,
                reason: "spam".into(),
                expires_at: Some(past),
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
    assert_eq!(violated_fields(&status), ["expires_at"]);
    let none = expect_err(
        moderation
            .get_ban(pb::GetBanRequest { user_id: jane.id })
            .await,
    );
    assert_refused(&none, Code::NotFound, "BAN_NOT_FOUND");

    // Expiring in an hour: in force now.
    let expiring = moderation
        .ban_user(pb::BanUserRequest {
            user_id: john.id,
            reason: "spam".into(),
            expires_at: Some(in_an_hour()),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    applied(&app, &expiring.event_cursor).await;
    let john_token = session_of(&app, &john);
    assert_all_banned(&every_service(&app.channel().await, &john_token, true).await);
    let status = login(&app, "john").await.err();
    assert_refused(
        &status.unwrap_or_else(|| panic!("a banned user logged in")),
        Code::PermissionDenied,
        "USER_BANNED",
    );

    // Placed two hours ago for one hour: over an hour ago.
    let connection = roster_kit::db::connect(&app.moderation_database_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let two_hours_ago = Utc::now() - Duration::from_secs(7200);
    let placed = Store::new(connection)
        .upsert_ban(
            NewBan {
                user_id: jane.id,
                reason: "spam".into(),
                banned_by: "admin:tests".into(),
                expires_at: Some(two_hours_ago + Duration::from_secs(3600)),
            },
            AuditRecord {
                actor: "admin:tests".into(),
                target_user_id: jane.id,
                action: AuditAction::BanUser,
                reason: "spam".into(),
                request_id: String::new(),
                details: Default::default(),
            },
            two_hours_ago,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    applied(&app, &placed.event_seq.to_string()).await;

    let shown = get_user(&app, jane.id).await;
    assert!(!shown.is_global_banned);
    assert_eq!(shown.ban_expires_at, None);
    assert_all_ok(&every_service(&app.channel().await, &session_of(&app, &jane), true).await);
    login(&app, "jane")
        .await
        .unwrap_or_else(|s| panic!("an expired ban still applies: {s:?}"));
    let read = moderation
        .get_ban(pb::GetBanRequest { user_id: jane.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(read.state(), pb::BanState::Expired);
    let status = expect_err(
        moderation
            .unban_user(pb::UnbanUserRequest {
                user_id: jane.id,
                reason: String::new(),
            })
            .await,
    );
    assert_refused(&status, Code::NotFound, "BAN_NOT_FOUND");
    let listed = |filter: pb::BanFilter| pb::ListBansRequest {
        filter: filter.into(),
        ..Default::default()
    };
    let ids = |response: pb::ListBansResponse| -> Vec<i64> {
        response.bans.iter().map(|b| b.user_id).collect()
    };
    let expired = moderation
        .list_bans(listed(pb::BanFilter::Expired))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(ids(expired), [jane.id]);
    let active = moderation
        .list_bans(listed(pb::BanFilter::Active))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(ids(active), [john.id]);

    // Banning again starts a new ban in place of the expired one.
    let renewed = moderation
        .ban_user(ban_request(jane.id, "spam, once more"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(renewed.created);
    applied(&app, &renewed.event_cursor).await;
    assert!(get_user(&app, jane.id).await.is_global_banned);
}

async fn bans_list_by_state_newest_first_a_page_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut moderation = moderation_admin(&app).await;
    let mut banned = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let user = create(&mut admin, name, name).await;
        moderation
            .ban_user(ban_request(user.id, "spam"))
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
        banned.push(user.id);
    }
    moderation
        .unban_user(pb::UnbanUserRequest {
            user_id: banned[1],
            reason: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));

    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = moderation
            .list_bans(pb::ListBansRequest {
                filter: pb::BanFilter::All.into(),
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"))
            .into_inner();
        pages.push(page.bans.iter().map(|b| b.user_id).collect::<Vec<_>>());
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, [vec![banned[2], banned[1]], vec![banned[0]]]);

    let only = |filter: pb::BanFilter| pb::ListBansRequest {
        filter: filter.into(),
        ..Default::default()
    };
    let active = moderation
        .list_bans(only(pb::BanFilter::Unspecified))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let active: Vec<i64> = active.bans.iter().map(|b| b.user_id).collect();
    assert_eq!(
        active,
        [banned[2], banned[0]],
        "UNSPECIFIED lists active bans"
    );
    let lifted = moderation
        .list_bans(only(pb::BanFilter::Lifted))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        lifted
            .bans
            .iter()
            .map(|b| (b.user_id, b.state()))
            .collect::<Vec<_>>(),
        [(banned[1], pb::BanState::Lifted)]
    );
    // A token of one filter does not resume another.
    let first = moderation
        .list_bans(pb::ListBansRequest {
            filter: pb::BanFilter::All.into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let status = expect_err(
        moderation
            .list_bans(pb::ListBansRequest {
                filter: pb::BanFilter::Lifted.into(),
                page_size: 1,
                page_token: first.next_page_token,
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
}
