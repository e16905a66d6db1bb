//! Safe retries: mutations called with an `idempotency-key` run once per
//! caller and key, over real gRPC on both backends; and the ledger's own
//! states (a call still running, a lapsed claim, an error after the change)
//! on a real database.

use std::time::Duration;

use roster_kit::{
    Actor,
    idempotency::{IdempotencyLedger, IdempotentCall},
    testing::{Backend, TestDatabase},
};
use roster_migrations::{MigratorTrait, UsersMigrator};
use roster_proto::v1 as pb;
use sea_orm::ConnectionTrait;
use tonic::{Code, Request, Status, metadata::MetadataMap};

use crate::helpers::{
    TestApp, assert_refused, create, expect_err, files_as, rename, violated_fields,
};
use crate::moderation::{create_role, files_admin, moderation_admin, network, roles_admin};
use crate::on_both_backends;

on_both_backends!(
    a_retried_create_user_creates_one_user,
    a_key_reused_for_another_request_is_refused_and_changes_nothing,
    keys_belong_to_their_caller,
    a_retried_update_answers_the_first_update,
    a_call_that_changed_nothing_releases_its_key,
    retried_grants_and_revokes_answer_as_the_first,
    a_retried_upload_stores_one_file,
    retried_moderation_calls_answer_as_the_first,
    malformed_keys_are_refused_by_field,
    the_ledger_answers_a_running_call_lapsed_claims_and_late_errors,
);

fn keyed<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "idempotency-key",
        key.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    request
}

fn new_user(name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        name: name.into(),
        ..Default::default()
    }
}

async fn a_retried_create_user_creates_one_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let first = admin
        .create_user(keyed(new_user("ada"), "create-ada-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = admin
        .create_user(keyed(new_user("ada"), "create-ada-1"))
        .await
        .unwrap_or_else(|s| panic!("a retry must get the first answer: {s:?}"))
        .into_inner();
    assert_eq!(retried, first, "the retry answers the first call's user");
    // Without the key the same request runs again, and the name is taken:
    // proof that the retry above did not.
    let again = expect_err(admin.create_user(new_user("ada")).await);
    assert_refused(&again, Code::AlreadyExists, "USER_ALREADY_EXISTS");
    let found = admin
        .query_users(pb::QueryUsersRequest {
            keyword: "ada".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(found.users.len(), 1, "one user named ada");
}

async fn a_key_reused_for_another_request_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let ada = admin
        .create_user(keyed(new_user("ada"), "k1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let other = expect_err(admin.create_user(keyed(new_user("bob"), "k1")).await);
    assert_refused(&other, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    assert!(
        other.message().contains("CreateUser"),
        "the message names what the key was used for: {other:?}"
    );
    let bob = expect_err(
        admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name("bob".into())),
            })
            .await,
    );
    assert_eq!(bob.code(), Code::NotFound, "bob was not created");
    // Another method with the same key is another request too.
    let update = expect_err(admin.update_user(keyed(rename(ada.id, "Ada"), "k1")).await);
    assert_refused(&update, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    let unchanged = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(ada.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        unchanged.version, ada.version,
        "the refused update changed nothing"
    );
}

async fn keys_belong_to_their_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let other_token = app
        .keys
        .issue_admin("another-client", Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let mut other = app.client(&other_token).await;
    let ada = admin
        .create_user(keyed(new_user("ada"), "shared-key"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let bob = other
        .create_user(keyed(new_user("bob"), "shared-key"))
        .await
        .unwrap_or_else(|s| panic!("another caller's key is its own: {s:?}"))
        .into_inner();
    assert_ne!(ada.id, bob.id);
    assert_eq!(bob.name, "bob");
}

async fn a_retried_update_answers_the_first_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let ada = create(&mut admin, "ada", "Ada").await;
    let first = admin
        .update_user(keyed(rename(ada.id, "Ada L."), "rename-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    // Someone else changes the user in between.
    let later = admin
        .update_user(rename(ada.id, "Countess"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = admin
        .update_user(keyed(rename(ada.id, "Ada L."), "rename-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, first, "the retry answers the first update");
    let now = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(ada.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        now.version, later.version,
        "the retry was not applied again"
    );
    assert_eq!(now.display_name, "Countess");
}

async fn a_call_that_changed_nothing_releases_its_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let invalid = expect_err(admin.create_user(keyed(new_user(""), "attempt")).await);
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&invalid), ["name"]);
    // Nothing was changed, so the key is free: a corrected request runs.
    let ada = admin
        .create_user(keyed(new_user("ada"), "attempt"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(ada.name, "ada");
}

async fn retried_grants_and_revokes_answer_as_the_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let ada = create(&mut admin, "ada", "Ada").await;
    let mut roles = roles_admin(&app).await;
    create_role(&mut roles, "helper", &[]).await;
    let grant = || pb::GrantRoleRequest {
        user_id: ada.id,
        role: "helper".into(),
        scope: network(),
        expires_at: None,
    };
    let first = roles
        .grant_role(keyed(grant(), "grant-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(first.created);
    let retried = roles
        .grant_role(keyed(grant(), "grant-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, first, "created stays true: the first answer");
    let unkeyed = roles
        .grant_role(grant())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(
        !unkeyed.created,
        "an unkeyed repeat runs and finds the grant"
    );

    let revoke = || pb::RevokeRoleRequest {
        user_id: ada.id,
        role: "helper".into(),
        scope: network(),
    };
    let revoked = roles
        .revoke_role(keyed(revoke(), "revoke-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = roles
        .revoke_role(keyed(revoke(), "revoke-1"))
        .await
        .unwrap_or_else(|s| panic!("a retried revoke answers the first: {s:?}"))
        .into_inner();
    assert_eq!(retried, revoked);
    let unkeyed = expect_err(roles.revoke_role(revoke()).await);
    assert_refused(&unkeyed, Code::NotFound, "GRANT_NOT_FOUND");
}

async fn a_retried_upload_stores_one_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let ada = create(&mut admin, "ada", "Ada").await;
    let mut files = files_as(&app, &ada).await;
    let content = vec![7u8; 200_000];
    let header = |name: &str| pb::UploadFileHeader {
        name: name.into(),
        content_type: "application/octet-stream".into(),
        size: content.len() as u64,
        purpose: pb::FilePurpose::Attachment.into(),
        ..Default::default()
    };
    let upload = |header: pb::UploadFileHeader| {
        let messages = roster_files::client::upload_messages(header, &content, 64 * 1024);
        keyed(futures::stream::iter(messages), "upload-1")
    };
    let first = files
        .upload_file(upload(header("notes.bin")))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = files
        .upload_file(upload(header("notes.bin")))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, first, "the retry answers the stored file");
    let other = expect_err(files.upload_file(upload(header("other.bin"))).await);
    assert_refused(&other, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    let listed = files_admin(&app)
        .await
        .list_files(pb::ListFilesRequest {
            owner_user_id: ada.id,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(listed.files.len(), 1, "one file stored: {listed:?}");
}

async fn retried_moderation_calls_answer_as_the_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let ada = create(&mut admin, "ada", "Ada").await;
    let mut moderation = moderation_admin(&app).await;
    let ban = || pb::BanUserRequest {
        user_id: ada.id,
        reason: "spam".into(),
        ..Default::default()
    };
    let banned = moderation
        .ban_user(keyed(ban(), "ban-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = moderation
        .ban_user(keyed(ban(), "ban-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, banned);
    let unban = || pb::UnbanUserRequest {
        user_id: ada.id,
        reason: "appeal".into(),
    };
    let lifted = moderation
        .unban_user(keyed(unban(), "unban-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = moderation
        .unban_user(keyed(unban(), "unban-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, lifted, "a retried unban answers the first");
    let bans = moderation
        .list_bans(pb::ListBansRequest::default())
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert!(
        bans.bans.is_empty(),
        "the retry did not ban again: {bans:?}"
    );

    let delete = || pb::DeleteUserRequest {
        user_id: ada.id,
        reason: "requested".into(),
        ..Default::default()
    };
    let job = moderation
        .delete_user(keyed(delete(), "delete-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let retried = moderation
        .delete_user(keyed(delete(), "delete-1"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(retried, job, "one deletion job");
}

async fn malformed_keys_are_refused_by_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    for key in ["has space", &"k".repeat(256)] {
        let refused = expect_err(admin.create_user(keyed(new_user("ada"), key)).await);
        assert_eq!(refused.code(), Code::InvalidArgument, "{key:?}");
        assert_eq!(violated_fields(&refused), ["idempotency-key"]);
    }
    let absent = expect_err(
        admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name("ada".into())),
            })
            .await,
    );
    assert_eq!(absent.code(), Code::NotFound, "nothing was created");
}

/// The ledger alone (the users service's table) on a real database: what a
/// retry meets while the first call runs, after it lapsed, and after an error
/// that followed its change.
async fn the_ledger_answers_a_running_call_lapsed_claims_and_late_errors(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let db = roster_kit::db::connect(&database.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    UsersMigrator::up(&db, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let table = roster_migrations::users::IDEMPOTENCY_TABLE;
    let ledger = IdempotencyLedger::new(
        db.clone(),
        table,
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    let caller = Actor::Admin {
        client: "tests".into(),
    };
    let call = |key: &str| {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "idempotency-key",
            key.parse().unwrap_or_else(|e| panic!("{e}")),
        );
        IdempotentCall::of("Test", &caller, &metadata, &pb::PingRequest::default())
            .unwrap_or_else(|e| panic!("{e}"))
    };

    // A retry while the first call runs is told to come back.
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let (finish, finished) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let (ledger, call) = (ledger.clone(), call("running"));
        async move {
            ledger
                .once(call, async move {
                    let _ = started.send(());
                    let _ = finished.await;
                    Ok(pb::PingResponse {
                        actor: "first".into(),
                    })
                })
                .await
        }
    });
    running.await.unwrap_or_else(|e| panic!("{e}"));
    let during = failure(
        ledger
            .once(call("running"), async { Ok(pb::PingResponse::default()) })
            .await,
        "the first call still runs",
    );
    assert_refused(&during, Code::Aborted, "IDEMPOTENCY_KEY_IN_FLIGHT");
    let _ = finish.send(());
    let answered = first
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|s| panic!("{s:?}"));
    let after = ledger
        .once(call("running"), async { Ok(pb::PingResponse::default()) })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!(after, answered, "the retry gets the first answer");

    // A claim whose call died before changing anything lapses: with no
    // lease, the retry takes it over and runs.
    let impatient =
        IdempotencyLedger::new(db.clone(), table, Duration::ZERO, Duration::from_secs(3600));
    let a_while_ago = chrono::Utc::now().timestamp_millis() - 10_000;
    db.execute_unprepared(&format!(
        "INSERT INTO {table} (caller, idem_key, method, fingerprint, claimed_at, applied) \
         SELECT caller, 'died', method, fingerprint, {a_while_ago}, false FROM {table} WHERE idem_key = 'running'"
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let taken_over = impatient
        .once(call("died"), async {
            Ok(pb::PingResponse {
                actor: "second".into(),
            })
        })
        .await;
    assert_eq!(taken_over.map(|r| r.actor).ok().as_deref(), Some("second"));

    // An error after the change committed is the answer: the retry gets it
    // and does not run again.
    let failed = failure(
        ledger
            .once(call("late-error"), {
                let db = db.clone();
                async move {
                    let txn = roster_kit::db::begin_write(&db)
                        .await
                        .map_err(|e| Status::internal(e.to_string()))?;
                    roster_kit::idempotency::mark_applied(&txn)
                        .await
                        .map_err(|e| Status::internal(e.to_string()))?;
                    txn.commit()
                        .await
                        .map_err(|e| Status::internal(e.to_string()))?;
                    Err::<pb::PingResponse, _>(Status::unavailable("the answer could not be sent"))
                }
            })
            .await,
        "the work failed",
    );
    let retried = failure(
        ledger
            .once(call("late-error"), async {
                Err::<pb::PingResponse, _>(Status::internal("an applied call ran again"))
            })
            .await,
        "the first answer was an error",
    );
    assert_eq!(
        (retried.code(), retried.message()),
        (failed.code(), failed.message())
    );
}

#[track_caller]
fn failure<T: std::fmt::Debug>(result: Result<T, Status>, why: &str) -> Status {
    match result {
        Ok(answer) => panic!("{why}, but the call answered {answer:?}"),
        Err(status) => status,
    }
}
