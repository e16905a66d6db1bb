//! DeleteUser (and its dry run), GetDeletionJob, ListDeletionJobs: the cascade
//! over real services and a product's deletion participant.

use roster_kit::testing::Backend;
use roster_moderation::ParticipantSettings;
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient, role_service_client::RoleServiceClient,
    user_service_client::UserServiceClient,
};
use tonic::{Code, Status, transport::Channel};

use super::{
    applied, ban_request, bearer, create_role, cursor_of, delete_and_wait, files_admin, flag,
    flag_request, get_user, grant, grant_in, list_flags, moderation_admin, moderation_as,
    moderation_with,
    participant::{FakeParticipant, MESSAGES_ERASED, ParticipantCall},
    roles_admin, session_of, until_deleted, watch,
};
use crate::helpers::{TestApp, assert_refused, create, expect_err, png, upload, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    a_dry_run_counts_per_service_and_touches_nothing,
    a_deletion_leaves_nothing_of_the_user_but_a_receipt,
    a_failing_participant_holds_the_job_until_it_acknowledges,
    deleting_needs_edit_user_and_spares_exempt_targets,
    deletion_jobs_list_newest_first_filtered_and_paged,
);

/// The suite with `chat` as its deletion participant, retrying quickly.
async fn with_participant(backend: Backend, chat: &FakeParticipant) -> TestApp {
    let endpoint = chat.endpoint.clone();
    TestApp::spawn_configured(backend, move |settings| {
        settings.moderation.participants = vec![ParticipantSettings {
            name: "chat".into(),
            endpoint,
        }];
        settings.moderation.retry_initial_ms = 5;
        settings.moderation.retry_max_ms = 20;
        settings.moderation.runner_poll_ms = 10;
    })
    .await
}

/// Jane, with everything Roster holds of a user: a profile with properties,
/// an avatar and an attachment, two grants, a flag she raised and one against
/// her. Returns jane and bob (whom she flagged and who flagged her).
async fn jane_with_everything(app: &TestApp) -> (pb::User, pb::User) {
    let mut admin = app.admin().await;
    let properties = serde_json::json!({"city": "Lisbon"});
    let jane = admin
        .create_user(pb::CreateUserRequest {
            name: "jane".into(),
            display_name: "Jane Doe".into(),
            description: "Likes cats".into(),
            properties: Some(roster_users::grpc::struct_from_json(
                properties.as_object().unwrap_or_else(|| unreachable!()),
            )),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let bob = create(&mut admin, "bob", "Bob").await;
    let avatar = upload(app, &jane, pb::FilePurpose::Avatar, &png(64, 64)).await;
    upload(app, &jane, pb::FilePurpose::Attachment, b"hello").await;
    admin
        .update_user(pb::UpdateUserRequest {
            user: crate::helpers::by_id(jane.id),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["avatar".into()],
            }),
            patch: Some(pb::UserPatch {
                avatar: Some(pb::Avatar {
                    source: Some(pb::avatar::Source::FileId(avatar.id)),
                }),
                ..Default::default()
            }),
            expected_version: 0,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let mut roles = roles_admin(app).await;
    create_role(&mut roles, "greeter", &["EDIT_MESSAGE"]).await;
    grant(app, &mut roles, &jane, "greeter").await;
    let general = Some(pb::Scope {
        scope: Some(pb::scope::Scope::ChannelId("general".into())),
    });
    grant_in(app, &mut roles, &jane, "channel-moderator", general).await;
    flag(&mut moderation_as(app, &jane).await, bob.id).await;
    let flagged = flag(&mut moderation_as(app, &bob).await, jane.id).await;
    applied(app, &flagged.event_cursor).await;
    (jane, bob)
}

async fn grants_of(app: &TestApp, user_id: i64) -> usize {
    roles_admin(app)
        .await
        .list_user_roles(pb::ListUserRolesRequest {
            user_id,
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .grants
        .len()
}

async fn files_of(app: &TestApp, user_id: i64) -> Vec<pb::File> {
    files_admin(app)
        .await
        .list_files(pb::ListFilesRequest {
            owner_user_id: user_id,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .files
}

async fn flag_count_listed(app: &TestApp, user_id: i64) -> i64 {
    moderation_admin(app)
        .await
        .list_flags(list_flags(user_id))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .flag_count
}

async fn jobs(app: &TestApp, request: pb::ListDeletionJobsRequest) -> pb::ListDeletionJobsResponse {
    moderation_admin(app)
        .await
        .list_deletion_jobs(request)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
}

fn counts(pairs: &[(&str, i64)]) -> std::collections::HashMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// One call with `token` to each of the four services.
async fn every_service(channel: &Channel, token: &str) -> Vec<Result<(), Status>> {
    vec![
        UserServiceClient::with_interceptor(channel.clone(), bearer(token))
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name("bob".into())),
            })
            .await
            .map(|_| ()),
        RoleServiceClient::with_interceptor(channel.clone(), bearer(token))
            .list_permissions(pb::ListPermissionsRequest {})
            .await
            .map(|_| ()),
        FileServiceClient::with_interceptor(channel.clone(), bearer(token))
            .list_files(pb::ListFilesRequest::default())
            .await
            .map(|_| ()),
        moderation_with(channel.clone(), token)
            .is_flagged_by_me(pb::IsFlaggedByMeRequest { user_ids: vec![1] })
            .await
            .map(|_| ()),
    ]
}

fn delete(user_id: i64, dry_run: bool, options: pb::DeletionOptions) -> pb::DeleteUserRequest {
    pb::DeleteUserRequest {
        user_id,
        options: Some(options),
        dry_run,
        reason: "requested by the user".into(),
    }
}

async fn a_dry_run_counts_per_service_and_touches_nothing(backend: Backend) {
    let chat = FakeParticipant::start(0).await;
    let app = with_participant(backend, &chat).await;
    let (jane, bob) = jane_with_everything(&app).await;
    let options = pb::DeletionOptions {
        delete_all: true,
        ..Default::default()
    };

    let answer = moderation_admin(&app)
        .await
        .delete_user(delete(jane.id, true, options))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(answer.job, None);
    let preview = answer.preview.unwrap_or_default();
    assert_eq!(preview.user_id, jane.id);
    let entries: Vec<_> = preview
        .entries
        .iter()
        .map(|e| (e.step(), e.service.as_str(), e.known, e.would_erase.clone()))
        .collect();
    use pb::DeletionStepKind as K;
    assert_eq!(
        entries,
        [
            (
                K::TombstoneUser,
                "users",
                true,
                counts(&[
                    ("user_records", 1),
                    ("profile_fields", 3),
                    ("properties", 1),
                    ("sessions", 1)
                ])
            ),
            (
                K::RevokeGrants,
                "roles",
                true,
                counts(&[("role_grants", 2)])
            ),
            (K::EraseFiles, "files", true, counts(&[("files", 2)])),
            (
                K::RemoveFlags,
                "moderation",
                true,
                counts(&[("flags_by_user", 1), ("flags_against_user", 1)])
            ),
            (
                K::NotifyParticipant,
                "chat",
                true,
                counts(&[("messages", MESSAGES_ERASED)])
            ),
        ]
    );
    // The participant was asked for a preview with the options, and to delete nothing.
    assert_eq!(
        chat.calls(),
        [ParticipantCall::Preview(pb::PreviewUserContentRequest {
            user_id: jane.id,
            options: Some(options),
        })]
    );

    // Nothing changed anywhere.
    let read = get_user(&app, jane.id).await;
    assert_eq!(
        (read.display_name.as_str(), read.is_deleted, read.flag_count),
        ("Jane Doe", false, 1)
    );
    assert_eq!(grants_of(&app, jane.id).await, 2);
    assert_eq!(files_of(&app, jane.id).await.len(), 2);
    assert_eq!(flag_count_listed(&app, jane.id).await, 1);
    assert_eq!(flag_count_listed(&app, bob.id).await, 1);
    assert!(
        jobs(&app, pb::ListDeletionJobsRequest::default())
            .await
            .jobs
            .is_empty()
    );
    for answer in every_service(&app.channel().await, &session_of(&app, &jane)).await {
        answer.unwrap_or_else(|s| panic!("a dry run ended a session: {s:?}"));
    }
    let audit = moderation_admin(&app)
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            action: pb::AuditAction::DeleteUser.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(audit.entries.is_empty(), "dry runs are not recorded");
}

async fn a_deletion_leaves_nothing_of_the_user_but_a_receipt(backend: Backend) {
    let chat = FakeParticipant::start(0).await;
    let app = with_participant(backend, &chat).await;
    let (jane, bob) = jane_with_everything(&app).await;
    let jane_token = session_of(&app, &jane);
    let attachments = files_of(&app, jane.id).await;
    let mut user_events = app
        .admin()
        .await
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let options = pb::DeletionOptions {
        mark_messages_deleted: true,
        hard_delete_comments: true,
        ..Default::default()
    };

    let mut moderation = moderation_admin(&app).await;
    let mut events = watch(&mut moderation, "").await;
    let started = moderation
        .delete_user(delete(jane.id, false, options))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .job
        .unwrap_or_else(|| panic!("no job"));
    assert_eq!(started.user_id, jane.id);
    assert_eq!(started.options, Some(options));
    assert_eq!(started.requested_by, "admin:tests");
    assert_eq!(started.reason, "requested by the user");
    assert_eq!(started.state(), pb::DeletionJobState::Pending);
    let planned: Vec<_> = started
        .steps
        .iter()
        .map(|s| (s.position, s.kind(), s.service.as_str(), s.state()))
        .collect();
    use pb::{DeletionStepKind as K, DeletionStepState as S};
    assert_eq!(
        planned,
        [
            (0, K::TombstoneUser, "users", S::Pending),
            (1, K::RevokeGrants, "roles", S::Pending),
            (2, K::EraseFiles, "files", S::Pending),
            (3, K::RemoveFlags, "moderation", S::Pending),
            (4, K::NotifyParticipant, "chat", S::Pending),
        ]
    );

    // Followed to the end on the moderation stream.
    let seen = until_deleted(&mut events, started.id).await;
    let ours: Vec<_> = seen
        .iter()
        .filter(|e| {
            e.deletion_job_id == started.id
                || e.kind() == pb::ModerationEventKind::FlagsCleared
                || e.flag
                    .as_ref()
                    .is_some_and(|f| f.flagger_user_id == jane.id)
        })
        .map(|e| (e.kind(), e.user_id, e.flag_count))
        .collect();
    use pb::ModerationEventKind as E;
    assert_eq!(
        ours,
        [
            (E::UserFlagged, bob.id, 1),
            (E::UserDeletionStarted, jane.id, 0),
            (E::UserUnflagged, bob.id, 0),
            (E::FlagsCleared, jane.id, 0),
            (E::UserDeleted, jane.id, 0),
        ]
    );
    let deleted = seen.last().unwrap_or_else(|| unreachable!());
    assert_eq!(deleted.deletion_options, Some(options));
    applied(&app, &cursor_of(deleted.meta.as_ref())).await;

    // The job: each step done once, with what it erased (the receipt).
    let job = moderation
        .get_deletion_job(pb::GetDeletionJobRequest { job_id: started.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(job.state(), pb::DeletionJobState::Completed);
    assert!(job.completed_at.is_some());
    assert_eq!(job.lease_owner, "");
    let receipt: Vec<_> = job
        .steps
        .iter()
        .map(|s| (s.kind(), s.state(), s.attempts, s.erased.clone()))
        .collect();
    assert_eq!(
        receipt,
        [
            (
                K::TombstoneUser,
                S::Succeeded,
                1,
                counts(&[("user_records", 1)])
            ),
            (
                K::RevokeGrants,
                S::Succeeded,
                1,
                counts(&[("role_grants", 2)])
            ),
            (K::EraseFiles, S::Succeeded, 1, counts(&[("files", 2)])),
            (
                K::RemoveFlags,
                S::Succeeded,
                1,
                counts(&[("flags_by_user", 1), ("flags_against_user", 1)])
            ),
            (
                K::NotifyParticipant,
                S::Succeeded,
                1,
                counts(&[("messages", MESSAGES_ERASED)])
            ),
        ]
    );
    let at = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos));
    for step in &job.steps {
        assert!(
            step.started_at.is_some() && step.completed_at.is_some(),
            "{step:?}"
        );
        assert!(at(step.completed_at) <= at(job.completed_at), "{step:?}");
    }
    // Ids and counts only: nothing the user was.
    let receipt = format!("{job:?}");
    for personal in ["jane", "Jane Doe", "Likes cats", "Lisbon"] {
        assert!(
            !receipt.contains(personal),
            "the receipt holds {personal:?}: {receipt}"
        );
    }
    // The participant acknowledged once, for this job, with the options.
    assert_eq!(
        chat.deletions(),
        [(
            pb::DeleteUserContentRequest {
                user_id: jane.id,
                options: Some(options),
                job_id: job.id,
            },
            true
        )]
    );

    // The user service keeps a tombstone: the id and the name, nothing else.
    let tombstone = get_user(&app, jane.id).await;
    assert_eq!(tombstone.name, "jane");
    assert_eq!(tombstone.display_name, "Deleted User");
    assert_eq!(tombstone.description, "");
    assert_eq!(tombstone.avatar, None);
    assert_eq!(tombstone.display_picture_url, "");
    assert!(tombstone.properties.is_none_or(|p| p.fields.is_empty()));
    assert!(tombstone.is_deleted);
    assert_eq!(tombstone.flag_count, 0);
    assert!(tombstone.roles.is_empty());
    for answer in every_service(&app.channel().await, &jane_token).await {
        let status = answer
            .err()
            .unwrap_or_else(|| panic!("a deleted user's session works"));
        assert_refused(&status, Code::Unauthenticated, "TOKEN_REVOKED");
    }
    let mut admin = app.admin().await;
    let taken = expect_err(
        admin
            .create_user(pb::CreateUserRequest {
                name: "jane".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&taken, Code::AlreadyExists, "USER_ALREADY_EXISTS");
    let no_session = expect_err(
        admin
            .issue_user_token(pb::IssueUserTokenRequest {
                name: "jane".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&no_session, Code::FailedPrecondition, "USER_DELETED");
    // No grants, no files (nor their bytes), no flags by or against her.
    assert_eq!(grants_of(&app, jane.id).await, 0);
    assert!(files_of(&app, jane.id).await.is_empty());
    for file in attachments {
        let gone = expect_err(
            files_admin(&app)
                .await
                .get_file(pb::GetFileRequest {
                    file_id: file.id.clone(),
                    ..Default::default()
                })
                .await,
        );
        assert_refused(&gone, Code::NotFound, "FILE_NOT_FOUND");
    }
    assert_eq!(flag_count_listed(&app, jane.id).await, 0);
    assert_eq!(flag_count_listed(&app, bob.id).await, 0);
    assert_eq!(get_user(&app, bob.id).await.flag_count, 0);
    // The user service's own stream told the deletion.
    loop {
        let event = super::next(&mut user_events).await;
        let user = event.user.clone().unwrap_or_default();
        if event.kind() == pb::UserEventKind::Deleted && user.id == jane.id {
            assert_eq!(user.display_name, "Deleted User");
            assert!(user.is_deleted);
            break;
        }
    }

    // Deletion is final; the deleted can be neither flagged nor banned.
    for dry_run in [false, true] {
        let again = expect_err(
            moderation
                .delete_user(delete(jane.id, dry_run, options))
                .await,
        );
        assert_refused(&again, Code::FailedPrecondition, "USER_ALREADY_DELETED");
    }
    let flagging = expect_err(
        moderation_as(&app, &bob)
            .await
            .flag_user(flag_request(jane.id, pb::FlagReason::Spam, ""))
            .await,
    );
    assert_refused(&flagging, Code::FailedPrecondition, "USER_DELETED");
    let banning = expect_err(moderation.ban_user(ban_request(jane.id, "spam")).await);
    assert_refused(&banning, Code::FailedPrecondition, "USER_DELETED");
    let unknown = expect_err(
        moderation
            .delete_user(delete(424_242, false, options))
            .await,
    );
    assert_refused(&unknown, Code::NotFound, "USER_NOT_FOUND");
    let no_job = expect_err(
        moderation
            .get_deletion_job(pb::GetDeletionJobRequest { job_id: 424_242 })
            .await,
    );
    assert_refused(&no_job, Code::NotFound, "DELETION_JOB_NOT_FOUND");
    let invalid = expect_err(
        moderation
            .get_deletion_job(pb::GetDeletionJobRequest { job_id: 0 })
            .await,
    );
    assert_eq!(violated_fields(&invalid), ["job_id"]);
    // Exactly one job, and the audit log has the request.
    let all = jobs(&app, pb::ListDeletionJobsRequest::default()).await;
    assert_eq!(all.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [job.id]);
    let audit = moderation
        .list_audit_entries(pb::ListAuditEntriesRequest {
            target_user_id: jane.id,
            action: pb::AuditAction::DeleteUser.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(audit.entries.len(), 1);
    let entry = &audit.entries[0];
    assert_eq!(entry.actor, "admin:tests");
    assert_eq!(entry.reason, "requested by the user");
    assert_eq!(entry.details.get("job_id"), Some(&job.id.to_string()));
    assert_eq!(
        entry.details.get("mark_messages_deleted"),
        Some(&"true".to_owned())
    );
    assert_eq!(
        entry.details.get("hard_delete_posts"),
        Some(&"false".to_owned())
    );
}

async fn a_failing_participant_holds_the_job_until_it_acknowledges(backend: Backend) {
    let chat = FakeParticipant::start(2).await;
    let app = with_participant(backend, &chat).await;
    let jane = create(&mut app.admin().await, "jane", "Jane").await;
    let (started, deleted) = delete_and_wait(&app, jane.id, pb::DeletionOptions::default()).await;
    assert_eq!(deleted.user_id, jane.id);

    // Asked three times for the same job; only the last call acknowledged, and
    // only then did the job complete.
    let calls = chat.deletions();
    assert_eq!(
        calls
            .iter()
            .map(|(r, ok)| (r.job_id, *ok))
            .collect::<Vec<_>>(),
        [(started.id, false), (started.id, false), (started.id, true)]
    );
    let job = moderation_admin(&app)
        .await
        .get_deletion_job(pb::GetDeletionJobRequest { job_id: started.id })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let chat_step = job.steps.last().cloned().unwrap_or_default();
    assert_eq!(chat_step.service, "chat");
    assert_eq!(chat_step.state(), pb::DeletionStepState::Succeeded);
    assert_eq!(chat_step.attempts, 3);
    assert_eq!(chat_step.last_error, "");
    assert_eq!(chat_step.next_attempt_at, None);
    // Roster's own steps ran once each.
    let attempts: Vec<i32> = job.steps.iter().map(|s| s.attempts).collect();
    assert_eq!(attempts, [1, 1, 1, 1, 3]);
}

async fn deleting_needs_edit_user_and_spares_exempt_targets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut roles = roles_admin(&app).await;
    let target = create(&mut admin, "target", "Target").await;
    let plain = create(&mut admin, "plain", "Plain").await;
    let deleter = create(&mut admin, "deleter", "Deleter").await;
    let exempt_deleter = create(&mut admin, "exempt-deleter", "Exempt Deleter").await;
    let boss = create(&mut admin, "boss", "Super Moderator").await;
    create_role(&mut roles, "account-remover", &["EDIT_USER"]).await;
    grant(&app, &mut roles, &deleter, "account-remover").await;
    grant(&app, &mut roles, &exempt_deleter, "account-remover").await;
    grant(&app, &mut roles, &exempt_deleter, "super-moderator").await;
    grant(&app, &mut roles, &boss, "super-moderator").await;
    let options = pb::DeletionOptions::default();

    // Without EDIT_USER: refused, dry runs and job reads too.
    let mut as_plain = moderation_as(&app, &plain).await;
    for status in [
        expect_err(
            as_plain
                .delete_user(delete(target.id, false, options))
                .await,
        ),
        expect_err(as_plain.delete_user(delete(target.id, true, options)).await),
        expect_err(
            as_plain
                .get_deletion_job(pb::GetDeletionJobRequest { job_id: 1 })
                .await,
        ),
        expect_err(
            as_plain
                .list_deletion_jobs(pb::ListDeletionJobsRequest::default())
                .await,
        ),
    ] {
        assert_refused(&status, Code::PermissionDenied, "PERMISSION_DENIED");
    }
    // EDIT_USER deletes ordinary users, not those exempt from moderation…
    let mut as_deleter = moderation_as(&app, &deleter).await;
    for dry_run in [true, false] {
        let status = expect_err(
            as_deleter
                .delete_user(delete(boss.id, dry_run, options))
                .await,
        );
        assert_refused(&status, Code::PermissionDenied, "TARGET_EXEMPT");
    }
    // …which a deleter exempt too, or an admin, may.
    moderation_as(&app, &exempt_deleter)
        .await
        .delete_user(delete(boss.id, true, options))
        .await
        .unwrap_or_else(|s| panic!("an exempt deleter may delete an exempt user: {s:?}"));
    moderation_admin(&app)
        .await
        .delete_user(delete(boss.id, true, options))
        .await
        .unwrap_or_else(|s| panic!("an admin may delete an exempt user: {s:?}"));
    // None of the refused calls started a job, nor did the dry runs.
    assert!(
        jobs(&app, pb::ListDeletionJobsRequest::default())
            .await
            .jobs
            .is_empty()
    );
    assert!(!get_user(&app, boss.id).await.is_deleted);

    let mut events = watch(&mut moderation_admin(&app).await, "").await;
    let job = as_deleter
        .delete_user(delete(target.id, false, options))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .job
        .unwrap_or_default();
    assert_eq!(job.requested_by, format!("user:{}", deleter.id));
    until_deleted(&mut events, job.id).await;
    let read = as_deleter
        .get_deletion_job(pb::GetDeletionJobRequest { job_id: job.id })
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER reads deletion jobs: {s:?}"))
        .into_inner();
    assert_eq!(read.state(), pb::DeletionJobState::Completed);
    assert!(get_user(&app, target.id).await.is_deleted);
    assert_eq!(grants_of(&app, boss.id).await, 1);
}

async fn deletion_jobs_list_newest_first_filtered_and_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let mut ids = Vec::new();
    let mut users = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let user = create(&mut admin, name, name).await;
        let (job, _) = delete_and_wait(&app, user.id, pb::DeletionOptions::default()).await;
        ids.push(job.id);
        users.push(user.id);
    }
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = jobs(
            &app,
            pb::ListDeletionJobsRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            },
        )
        .await;
        pages.push(page.jobs.iter().map(|j| j.id).collect::<Vec<_>>());
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, [vec![ids[2], ids[1]], vec![ids[0]]]);

    let of_ben = jobs(
        &app,
        pb::ListDeletionJobsRequest {
            user_id: users[1],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        of_ben.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[1]]
    );
    let completed = jobs(
        &app,
        pb::ListDeletionJobsRequest {
            state: pb::DeletionJobState::Completed.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(completed.jobs.len(), 3);
    let pending = jobs(
        &app,
        pb::ListDeletionJobsRequest {
            state: pb::DeletionJobState::Pending.into(),
            ..Default::default()
        },
    )
    .await;
    assert!(pending.jobs.is_empty());
    // Filters are part of the token.
    let first = jobs(
        &app,
        pb::ListDeletionJobsRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    let status = expect_err(
        moderation_admin(&app)
            .await
            .list_deletion_jobs(pb::ListDeletionJobsRequest {
                state: pb::DeletionJobState::Completed.into(),
                page_size: 1,
                page_token: first.next_page_token,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    let status = expect_err(
        moderation_admin(&app)
            .await
            .list_deletion_jobs(pb::ListDeletionJobsRequest {
                user_id: -1,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["user_id"]);
}
