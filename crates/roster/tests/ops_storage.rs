//! Bounded storage, on both backends: each outbox is pruned to its retention
//! (by age and count) and a watch resuming from a pruned cursor is refused
//! OUT_OF_RANGE / CURSOR_EXPIRED rather than skipping events; stored objects
//! without a file row are swept after a grace period; SQLite serialises
//! concurrent writers instead of failing them with SQLITE_BUSY; on
//! PostgreSQL, outbox appends commit asynchronously yet are on disk before
//! their callers hear of them, and concurrent appends stream without gaps
//! (a reader waits for an append in flight before handing on a later one).

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjectPath};
use roster::{ALL_SERVICES, RosterSettings, Suite};
use roster_files::{FileService, FilesSettings, S3Settings, StorageBackend, StorageSettings};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::Secret,
    events::{PrunableLog, Retention},
    service::{RosterService, ServiceContext},
    testing::{Backend, TestDatabase, local_listener},
};
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient,
    moderation_service_client::ModerationServiceClient, role_service_client::RoleServiceClient,
    user_service_client::UserServiceClient,
};
use roster_users::UserStore;
use tonic::{Code, Status, Streaming, transport::Channel};
use tonic_types::StatusExt;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn assert_refused(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    assert_eq!(
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone()),
        Some(reason.to_owned()),
        "unexpected reason in {status:?}"
    );
}

/// Every service on one fresh database, served until dropped.
struct App {
    address: String,
    keys: Arc<TokenKeys>,
    settings: RosterSettings,
    users_store: UserStore,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl App {
    async fn start(database_url: &str, configure: impl FnOnce(&mut RosterSettings)) -> Self {
        let mut settings = RosterSettings::default();
        settings.common.data_dir =
            std::env::temp_dir().join(format!("roster-storage-{}", uuid::Uuid::new_v4()));
        for url in [
            &mut settings.users.database_url,
            &mut settings.roles.database_url,
            &mut settings.files.database_url,
            &mut settings.moderation.database_url,
        ] {
            *url = Some(Secret::new(database_url));
        }
        // Pruned only when a test says so.
        settings.common.outbox.prune_interval_secs = 0;
        configure(&mut settings);
        let keys = Arc::new(TokenKeys::generate("roster"));
        let (listener, address) = local_listener().await;
        let suite = Suite::start(&settings, ALL_SERVICES, keys.clone(), &listener)
            .await
            .unwrap_or_else(|e| panic!("starting the suite: {e}"));
        let users_store = suite
            .users
            .as_ref()
            .unwrap_or_else(|| panic!("the user service runs in the suite"))
            .store
            .clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = suite
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            keys,
            settings,
            users_store,
            _stop: stop,
        }
    }

    async fn channel(&self) -> Channel {
        ok(ok(Channel::from_shared(self.address.clone()))
            .connect()
            .await)
    }

    fn admin(&self) -> BearerToken {
        ok(BearerToken::new(
            &ok(self.keys.issue_admin("storage", Duration::from_secs(600))).token,
        ))
    }

    fn session(&self, user: &pb::User) -> BearerToken {
        ok(BearerToken::new(
            &ok(self.keys.issue_user(user.id, 0, Duration::from_secs(600))).token,
        ))
    }

    fn data_dir(&self) -> &std::path::Path {
        &self.settings.common.data_dir
    }

    async fn create_users(&self, names: &[&str]) -> Vec<pb::User> {
        let mut users = UserServiceClient::with_interceptor(self.channel().await, self.admin());
        let mut created = Vec::new();
        for name in names {
            created.push(
                ok(users
                    .create_user(pb::CreateUserRequest {
                        name: (*name).into(),
                        ..Default::default()
                    })
                    .await)
                .into_inner(),
            );
        }
        created
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.settings.common.data_dir);
    }
}

/// Generates one `#[tokio::test]` per backend for an `async fn(Backend)`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test(roster_kit::testing::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$test(roster_kit::testing::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    the_user_outbox_keeps_its_retention_and_refuses_pruned_cursors,
    the_role_outbox_keeps_its_retention_and_refuses_pruned_cursors,
    the_moderation_outbox_keeps_its_retention_and_refuses_pruned_cursors,
    the_configured_retention_prunes_when_a_service_starts,
    objects_without_a_row_are_swept_after_the_grace_period,
    concurrent_grants_and_updates_all_succeed,
);

/// What a watch resuming after `after` sends first: its first event's cursor,
/// or the status it ends with.
async fn first_after<T, F, Fut>(
    open: &F,
    after: &str,
    cursor_of: fn(&T) -> String,
) -> Result<String, Status>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Streaming<T>>, Status>>,
{
    let mut stream = open(after.to_owned()).await?.into_inner();
    match stream.message().await? {
        Some(event) => Ok(cursor_of(&event)),
        None => panic!("the watch after {after:?} ended without an event or a status"),
    }
}

/// Prunes `log`, whose events are exactly `cursors` (oldest first, at least
/// five), and checks what its watch (`open`) then serves.
async fn assert_retention<T, F, Fut>(
    log: &dyn PrunableLog,
    cursors: &[String],
    open: F,
    cursor_of: fn(&T) -> String,
) where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Streaming<T>>, Status>>,
{
    let count = cursors.len();
    assert!(count >= 5, "{cursors:?}");
    let week = Duration::from_secs(7 * 24 * 3600);
    let now = Utc::now();
    let in_eight_days = now + chrono::Duration::days(8);
    let retention = |min_events| Retention {
        max_age: week,
        min_events,
    };
    // Younger than the retention: kept.
    assert_eq!(ok(log.prune(retention(1), now).await), 0);
    // Older, but within the newest `min_events`: kept.
    assert_eq!(
        ok(log.prune(retention(count as u64), in_eight_days).await),
        0
    );
    assert_eq!(
        first_after(&open, "", cursor_of).await.ok().as_ref(),
        Some(&cursors[0])
    );
    // Older and beyond the newest two: pruned.
    assert_eq!(
        ok(log.prune(retention(2), in_eight_days).await),
        count as u64 - 2
    );
    let (oldest_kept, newest) = (&cursors[count - 2], &cursors[count - 1]);
    // Resuming right before the oldest kept event misses nothing.
    assert_eq!(
        first_after(&open, &cursors[count - 3], cursor_of)
            .await
            .ok()
            .as_ref(),
        Some(oldest_kept)
    );
    assert_eq!(
        first_after(&open, oldest_kept, cursor_of)
            .await
            .ok()
            .as_ref(),
        Some(newest)
    );
    // Resuming from further back would skip events: refused.
    for expired in &cursors[..count - 3] {
        let status = first_after(&open, expired, cursor_of)
            .await
            .err()
            .unwrap_or_else(|| panic!("a watch after pruned cursor {expired} was served"));
        assert_refused(&status, Code::OutOfRange, "CURSOR_EXPIRED");
        assert!(status.message().contains("retention"), "{status:?}");
    }
    // An empty cursor starts at the oldest event kept.
    assert_eq!(
        first_after(&open, "", cursor_of).await.ok().as_ref(),
        Some(oldest_kept)
    );
    // Pruning again finds nothing more to delete.
    assert_eq!(ok(log.prune(retention(2), in_eight_days).await), 0);
}

fn user_event_cursor(event: &pb::UserEvent) -> String {
    event
        .meta
        .as_ref()
        .map(|m| m.cursor.clone())
        .unwrap_or_default()
}

async fn the_user_outbox_keeps_its_retention_and_refuses_pruned_cursors(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let app = App::start(&database.url, |_| {}).await;
    app.create_users(&["ann", "bob", "cal", "dan", "eve"]).await;
    let users = UserServiceClient::with_interceptor(app.channel().await, app.admin());
    let mut all = ok(users
        .clone()
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await)
    .into_inner();
    let mut cursors = Vec::new();
    for _ in 0..5 {
        let event = ok(all.message().await).unwrap_or_else(|| panic!("the watch ended"));
        cursors.push(user_event_cursor(&event));
    }
    drop(all);
    let open = |after_cursor: String| {
        let mut users = users.clone();
        async move {
            users
                .watch_user_events(pb::WatchUserEventsRequest {
                    after_cursor,
                    from_now: false,
                })
                .await
        }
    };
    assert_retention(&app.users_store, &cursors, open, user_event_cursor).await;
}

fn role_event_cursor(event: &pb::RoleEvent) -> String {
    event
        .meta
        .as_ref()
        .map(|m| m.cursor.clone())
        .unwrap_or_default()
}

async fn the_role_outbox_keeps_its_retention_and_refuses_pruned_cursors(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let app = App::start(&database.url, |_| {}).await;
    let member = &app.create_users(&["mod"]).await[0];
    let roles = RoleServiceClient::with_interceptor(app.channel().await, app.admin());
    let mut cursors = Vec::new();
    for channel in ["a", "b", "c", "d", "e", "f"] {
        let granted = ok(roles
            .clone()
            .grant_role(pb::GrantRoleRequest {
                user_id: member.id,
                role: "channel-moderator".into(),
                scope: Some(pb::Scope {
                    scope: Some(pb::scope::Scope::ChannelId(channel.into())),
                }),
                expires_at: None,
            })
            .await)
        .into_inner();
        cursors.push(granted.event_cursor);
    }
    let log = roster_roles::Store::new(ok(roster_kit::db::connect(&database.url).await));
    let open = |after_cursor: String| {
        let mut roles = roles.clone();
        async move {
            roles
                .watch_role_events(pb::WatchRoleEventsRequest {
                    after_cursor,
                    from_now: false,
                })
                .await
        }
    };
    assert_retention(&log, &cursors, open, role_event_cursor).await;
}

fn moderation_event_cursor(event: &pb::ModerationEvent) -> String {
    event
        .meta
        .as_ref()
        .map(|m| m.cursor.clone())
        .unwrap_or_default()
}

async fn the_moderation_outbox_keeps_its_retention_and_refuses_pruned_cursors(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let app = App::start(&database.url, |_| {}).await;
    let target = &app.create_users(&["target"]).await[0];
    let moderation = ModerationServiceClient::with_interceptor(app.channel().await, app.admin());
    let mut cursors = Vec::new();
    for round in 0..3 {
        let banned = ok(moderation
            .clone()
            .ban_user(pb::BanUserRequest {
                user_id: target.id,
                reason: format!("round {round}"),
                expires_at: None,
            })
            .await)
        .into_inner();
        cursors.push(banned.event_cursor);
        let lifted = ok(moderation
            .clone()
            .unban_user(pb::UnbanUserRequest {
                user_id: target.id,
                reason: format!("round {round} over"),
            })
            .await)
        .into_inner();
        cursors.push(lifted.event_cursor);
    }
    let log =
        roster_moderation::store::Store::new(ok(roster_kit::db::connect(&database.url).await));
    let open = |after_cursor: String| {
        let mut moderation = moderation.clone();
        async move {
            moderation
                .watch_moderation_events(pb::WatchModerationEventsRequest {
                    after_cursor,
                    from_now: false,
                })
                .await
        }
    };
    assert_retention(&log, &cursors, open, moderation_event_cursor).await;
}

async fn the_configured_retention_prunes_when_a_service_starts(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let first = App::start(&database.url, |_| {}).await;
    first.create_users(&["ann", "bob", "cal"]).await;
    let mut users = UserServiceClient::with_interceptor(first.channel().await, first.admin());
    let mut all = ok(users
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await)
    .into_inner();
    let first_cursor =
        user_event_cursor(&ok(all.message().await).unwrap_or_else(|| panic!("no event")));
    drop(all);

    // A replica configured to keep only the newest event prunes as it starts.
    let _pruning = App::start(&database.url, |settings| {
        settings.common.outbox.retention_days = 0;
        settings.common.outbox.retention_events = 1;
        settings.common.outbox.prune_interval_secs = 3600;
    })
    .await;
    let mut refused = None;
    for _ in 0..200 {
        let mut stream = ok(users
            .watch_user_events(pb::WatchUserEventsRequest {
                after_cursor: first_cursor.clone(),
                from_now: false,
            })
            .await)
        .into_inner();
        match stream.message().await {
            Err(status) => {
                refused = Some(status);
                break;
            }
            // Not pruned yet: the prune runs beside the replica's start.
            Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    let status = refused.unwrap_or_else(|| panic!("the replica did not prune at start"));
    assert_refused(&status, Code::OutOfRange, "CURSOR_EXPIRED");
}

/// A moto S3 server on a free local port with one bucket, stopped when dropped.
struct Moto(std::process::Child);

impl Moto {
    async fn start(bucket: &str) -> (Self, String) {
        let port =
            ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port();
        let program =
            std::env::var("ROSTER_TEST_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{program}` ({e}); `make test` installs it"));
        let moto = Self(child);
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            match client.put(format!("{endpoint}/{bucket}")).send().await {
                Ok(answer) if answer.status().is_success() => return (moto, endpoint),
                Ok(answer) => panic!("moto refused to create {bucket}: {}", answer.status()),
                // Still starting; poll again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("`{program}` did not answer on {endpoint}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn objects_without_a_row_are_swept_after_the_grace_period(backend: Backend) {
    // On SQLite the local directory, on PostgreSQL S3 (moto).
    let (storage, _moto) = match backend {
        Backend::Sqlite => (StorageSettings::default(), None),
        Backend::Postgres => {
            let (moto, endpoint) = Moto::start("roster-sweep").await;
            let settings = StorageSettings {
                backend: StorageBackend::S3,
                local_dir: None,
                s3: S3Settings {
                    bucket: "roster-sweep".into(),
                    endpoint: Some(endpoint),
                    region: Some("us-east-1".into()),
                    access_key_id: Some("testing".into()),
                    secret_access_key: Some(Secret::new("testing")),
                    allow_http: true,
                    prefix: Some("roster".into()),
                },
            };
            (settings, Some(moto))
        }
    };
    let database = TestDatabase::new(backend).await;
    let app = App::start(&database.url, |settings| {
        settings.files.storage = storage.clone();
    })
    .await;
    let owner = &app.create_users(&["owner"]).await[0];
    let mut files = FileServiceClient::with_interceptor(app.channel().await, app.session(owner));
    let content = b"kept: it has a row".to_vec();
    let kept = ok(roster_files::client::upload(
        &mut files,
        pb::UploadFileHeader {
            name: "kept.txt".into(),
            size: content.len() as u64,
            purpose: pb::FilePurpose::Attachment.into(),
            ..Default::default()
        },
        &content,
        1024,
    )
    .await);

    // What a crash between an upload's bytes and its row leaves, and an object
    // that is not Roster's.
    let objects: Arc<dyn ObjectStore> =
        ok(roster_files::store::open_store(&storage, app.data_dir()));
    let orphan_id = uuid::Uuid::new_v4().to_string();
    let orphan = ObjectPath::from(format!("{}/{orphan_id}-original", &orphan_id[..2]));
    let foreign = ObjectPath::from("notes/readme.txt");
    for path in [&orphan, &foreign] {
        ok(objects
            .put(path, PutPayload::from_static(b"left behind"))
            .await);
    }

    // The sweep as an operator runs it, on the same tables and storage.
    let sweeper = |grace_secs| {
        let mut settings = app.settings.files.clone();
        settings.orphan_grace_secs = grace_secs;
        settings.orphan_sweep_interval_secs = 0;
        sweep_with(app.settings.clone(), app.keys.clone(), settings)
    };
    // Within the grace period (an upload may be writing its row): kept.
    let report = ok(sweeper(3600).await);
    assert_eq!(report.deleted, 0, "{report:?}");
    assert!(report.examined >= 2, "{report:?}");
    ok(objects.head(&orphan).await);

    let report = ok(sweeper(0).await);
    assert_eq!(report.deleted, 1, "{report:?}");
    let gone = objects.head(&orphan).await.err();
    assert!(
        matches!(gone, Some(object_store::Error::NotFound { .. })),
        "the orphan is still there: {gone:?}"
    );
    ok(objects.head(&foreign).await);
    let read: Vec<u8> = {
        let mut stream = ok(files
            .download_file(pb::DownloadFileRequest {
                file_id: kept.id.clone(),
                ..Default::default()
            })
            .await)
        .into_inner();
        let mut bytes = Vec::new();
        while let Some(message) = ok(stream.message().await) {
            if let Some(pb::download_file_response::Part::Chunk(chunk)) = message.part {
                bytes.extend_from_slice(&chunk);
            }
        }
        bytes
    };
    assert_eq!(read, content, "the file with a row keeps its bytes");
}

/// Starts a file service on `settings`' tables and storage and sweeps once.
async fn sweep_with(
    suite: RosterSettings,
    keys: Arc<TokenKeys>,
    files: FilesSettings,
) -> roster_kit::Result<roster_files::domain::sweep::SweepReport> {
    let ctx = ServiceContext::new(suite.common.clone(), keys, "http://127.0.0.1:1")?;
    FileService::start(&ctx, &files)
        .await?
        .sweep_orphans()
        .await
}

async fn concurrent_grants_and_updates_all_succeed(backend: Backend) {
    // As `make bench` loads a server: many writers at once, here on every
    // service's tables in one database file (on SQLite).
    let database = TestDatabase::new(backend).await;
    let app = App::start(&database.url, |_| {}).await;
    let names: Vec<String> = (0..25).map(|i| format!("writer{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let people = app.create_users(&names).await;
    let channel = app.channel().await;
    let roles = RoleServiceClient::with_interceptor(channel.clone(), app.admin());
    let users = UserServiceClient::with_interceptor(channel, app.admin());
    // Following live while the writers race for the outbox.
    let mut watch = ok(users
        .clone()
        .watch_user_events(pb::WatchUserEventsRequest {
            from_now: true,
            ..Default::default()
        })
        .await)
    .into_inner();
    let mut calls = tokio::task::JoinSet::new();
    for person in &people {
        let (mut roles, mut users, id) = (roles.clone(), users.clone(), person.id);
        calls.spawn(async move {
            roles
                .grant_role(pb::GrantRoleRequest {
                    user_id: id,
                    role: "channel-moderator".into(),
                    scope: Some(pb::Scope {
                        scope: Some(pb::scope::Scope::ChannelId("busy".into())),
                    }),
                    expires_at: None,
                })
                .await
                .map(|_| ())
        });
        calls.spawn(async move {
            users
                .update_user(pb::UpdateUserRequest {
                    user: Some(pb::UserRef {
                        r#ref: Some(pb::user_ref::Ref::Id(id)),
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["display_name".into()],
                    }),
                    patch: Some(pb::UserPatch {
                        display_name: format!("Busy {id}"),
                        ..Default::default()
                    }),
                    expected_version: 0,
                })
                .await
                .map(|_| ())
        });
    }
    let mut failures = Vec::new();
    let mut done = 0;
    while let Some(joined) = calls.join_next().await {
        done += 1;
        if let Err(status) = ok(joined) {
            failures.push(status);
        }
    }
    assert_eq!(done, 50);
    assert!(
        failures.is_empty(),
        "calls failed under concurrent writes: {failures:?}"
    );
    // Every write landed.
    let mut members = 0;
    for person in &people {
        let held = ok(roles
            .clone()
            .list_user_roles(pb::ListUserRolesRequest {
                user_id: person.id,
                ..Default::default()
            })
            .await)
        .into_inner();
        members += usize::from(held.grants.iter().any(|g| g.role == "channel-moderator"));
        let user = ok(users
            .clone()
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Id(person.id)),
            })
            .await)
        .into_inner();
        assert_eq!(user.display_name, format!("Busy {}", person.id));
    }
    assert_eq!(members, people.len());

    // A stream that followed the race delivered each change once, in an
    // unbroken sequence: no late commit was skipped.
    let mut cursors = Vec::new();
    let mut renamed = std::collections::BTreeSet::new();
    while renamed.len() < people.len() {
        let event = ok(ok(tokio::time::timeout(
            Duration::from_secs(30),
            watch.message(),
        )
        .await))
        .unwrap_or_else(|| panic!("the stream ended after {} renames", renamed.len()));
        let meta = event.meta.clone().unwrap_or_default();
        cursors.push(ok(meta.cursor.parse::<i64>()));
        if event.kind == pb::UserEventKind::Updated as i32 {
            let user = event.user.unwrap_or_default();
            assert!(renamed.insert(user.id), "user {} renamed twice", user.id);
        }
    }
    assert!(
        cursors.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "cursors with gaps or out of order: {cursors:?}"
    );
}

/// An outbox append (its INSERT takes the outbox's turn) commits
/// asynchronously, so the outbox lock is not held through the disk flush;
/// `Durability::wait` then flushes the WAL past it.
#[tokio::test]
async fn an_outbox_append_is_on_disk_once_durability_is_awaited() {
    use roster_kit::durability::Durability;
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    let database = TestDatabase::postgres().await;
    let db = ok(roster_kit::db::connect(&database.url).await);
    ok(roster_kit::db::migrate::<roster_migrations::UsersMigrator>(&db).await);
    let durability = Durability::new(&db, roster_migrations::users::OUTBOX_LOCK_KEY);
    for n in 0..20 {
        let txn = ok(db.begin().await);
        ok(txn
            .execute_unprepared(&format!(
                "INSERT INTO user_events (user_id, kind, payload, occurred_at) \
                 VALUES ({n}, 2, '{{}}', now())"
            ))
            .await);
        let setting = ok(txn
            .query_one_raw(Statement::from_string(
                txn.get_database_backend(),
                "SHOW synchronous_commit",
            ))
            .await)
        .map(|row| ok(row.try_get_by_index::<String>(0)));
        assert_eq!(setting.as_deref(), Some("off"));
        ok(txn.commit().await);
        let written: String = scalar(&db, "SELECT pg_current_wal_insert_lsn()::text").await;
        ok(durability.wait().await);
        let flushed: bool = scalar(
            &db,
            &format!("SELECT pg_current_wal_flush_lsn() >= '{written}'::pg_lsn"),
        )
        .await;
        assert!(flushed, "append {n} not flushed after the wait");
    }
    // Outside an appending transaction commits stay synchronous.
    let setting: String = scalar(&db, "SHOW synchronous_commit").await;
    assert_eq!(setting, "on");
}

/// An append does not notify from inside its transaction (PostgreSQL
/// serialises the commits of all notifying transactions); its commit is
/// announced on the outbox's channel by the durability barrier after it.
#[tokio::test]
async fn a_commit_is_announced_by_its_barrier_not_by_its_append() {
    use roster_kit::durability::Durability;
    use roster_migrations::users::OUTBOX_LOCK_KEY;
    use sea_orm::{ConnectionTrait, TransactionTrait, sqlx::postgres::PgListener};

    let database = TestDatabase::postgres().await;
    let db = ok(roster_kit::db::connect(&database.url).await);
    ok(roster_kit::db::migrate::<roster_migrations::UsersMigrator>(&db).await);
    let channel = roster_kit::wake::outbox_channel(OUTBOX_LOCK_KEY);
    let mut listener = ok(PgListener::connect(&database.url).await);
    ok(listener.listen(&channel).await);
    let append = "INSERT INTO user_events (user_id, kind, payload, occurred_at) \
                  VALUES (1, 2, '{}', now())";

    let txn = ok(db.begin().await);
    ok(txn.execute_unprepared(append).await);
    ok(txn.commit().await);
    // Notifications arrive in commit order: the marker sent after the append
    // is the first one heard only if the append sent none.
    ok(db
        .execute_unprepared(&format!("SELECT pg_notify('{channel}', 'marker')"))
        .await);
    assert_eq!(ok(listener.recv().await).payload(), "marker");

    let durability = Durability::new(&db, OUTBOX_LOCK_KEY);
    let txn = ok(db.begin().await);
    ok(txn.execute_unprepared(append).await);
    ok(durability.commit(txn).await);
    let heard = ok(ok(tokio::time::timeout(
        Duration::from_secs(30),
        listener.recv(),
    )
    .await));
    assert_eq!(heard.payload(), "");
}

/// An INSERT into an outbox whose appends are exclusive (moderation's) takes
/// the outbox's turn before it draws its sequence number: while one
/// transaction's append is uncommitted, another's waits inside its INSERT,
/// and is numbered after it once it commits.
#[tokio::test]
async fn an_exclusive_outbox_append_waits_for_the_uncommitted_one_before_it() {
    use sea_orm::TransactionTrait;

    let database = TestDatabase::postgres().await;
    let db = ok(roster_kit::db::connect(&database.url).await);
    ok(roster_kit::db::migrate::<roster_migrations::ModerationMigrator>(&db).await);
    let append = "INSERT INTO moderation_events (kind, user_id, payload, occurred_at_ms) \
                  VALUES ('USER_FLAGGED', 1, '{}', 0) RETURNING seq";
    let first = ok(db.begin().await);
    let first_seq: i64 = scalar(&first, append).await;

    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let txn = ok(db.begin().await);
            let seq: i64 = scalar(&txn, append).await;
            ok(txn.commit().await);
            seq
        }
    });
    wait_for_an_advisory_lock_wait(&db, &second).await;
    ok(first.commit().await);
    let second_seq = ok(second.await);
    assert!(
        second_seq > first_seq,
        "the append that waited drew {second_seq}, before {first_seq}"
    );
}

/// The users' (and roles') appends run side by side, so a later-numbered
/// one may commit first: a reader does not hand it on before the one
/// numbered before it, and hands both on, in order, once that commits.
#[tokio::test]
async fn a_reader_waits_for_an_append_in_flight_before_a_later_one() {
    use sea_orm::TransactionTrait;

    let database = TestDatabase::postgres().await;
    let db = ok(roster_kit::db::connect(&database.url).await);
    ok(roster_kit::db::migrate::<roster_migrations::UsersMigrator>(&db).await);
    let first = ok(db.begin().await);
    let first_seq: i64 = scalar(&first, USER_EVENT_APPEND).await;
    // Not waiting for the first: it commits while the first is open.
    let second = ok(db.begin().await);
    let second_seq: i64 = scalar(&second, USER_EVENT_APPEND).await;
    ok(second.commit().await);
    assert!(second_seq > first_seq);

    let reader = tokio::spawn(user_events_in_order(db.clone(), first_seq - 1));
    wait_for_an_advisory_lock_wait(&db, &reader).await;
    ok(first.commit().await);
    assert_eq!(ok(reader.await), vec![first_seq, second_seq]);
}

/// A gap an append left by rolling back is final: a reader passes it, in
/// the same read as the events before it (a reader waits for a commit after
/// each read, and the commit after the gap happened already).
#[tokio::test]
async fn a_reader_passes_the_gap_of_a_rolled_back_append() {
    use sea_orm::TransactionTrait;

    let database = TestDatabase::postgres().await;
    let db = ok(roster_kit::db::connect(&database.url).await);
    ok(roster_kit::db::migrate::<roster_migrations::UsersMigrator>(&db).await);
    let before: i64 = scalar(&db, USER_EVENT_APPEND).await;
    let rolled_back = ok(db.begin().await);
    let gap: i64 = scalar(&rolled_back, USER_EVENT_APPEND).await;
    ok(rolled_back.rollback().await);
    let committed = ok(db.begin().await);
    let seq: i64 = scalar(&committed, USER_EVENT_APPEND).await;
    ok(committed.commit().await);

    assert_eq!(
        user_events_in_order(db.clone(), before - 1).await,
        vec![before, seq]
    );
    assert_eq!(user_events_in_order(db.clone(), gap - 1).await, vec![seq]);
    let newest = ok(roster_kit::outbox::newest_settled(&db, "user_events").await);
    assert_eq!(newest, seq);
}

const USER_EVENT_APPEND: &str = "INSERT INTO user_events (user_id, kind, payload, occurred_at) \
                                 VALUES (1, 2, '{}', now()) RETURNING seq";

/// The sequence numbers a reader of `user_events` hands on after `after`.
async fn user_events_in_order(db: sea_orm::DatabaseConnection, after: i64) -> Vec<i64> {
    use sea_orm::{ConnectionTrait, Statement};
    let read = || async {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT seq FROM user_events WHERE seq > $1 ORDER BY seq",
                [after.into()],
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<i64>(0))
            .collect::<Result<Vec<_>, _>>()
    };
    ok(roster_kit::outbox::read_in_order(&db, "user_events", after, |seq| *seq, read).await)
}

/// Returns once a session of `db`'s database waits for an advisory lock,
/// which `waiter` (the only one that may) must not have finished before.
async fn wait_for_an_advisory_lock_wait<T>(
    db: &sea_orm::DatabaseConnection,
    waiter: &tokio::task::JoinHandle<T>,
) {
    loop {
        let waiting: i64 = scalar(
            db,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
        if waiting == 1 {
            break;
        }
        assert!(!waiter.is_finished(), "nothing waited for the lock");
        tokio::task::yield_now().await;
    }
}

/// The one value `sql` answers through `db` (a connection or a transaction).
async fn scalar<T: sea_orm::TryGetable>(db: &impl sea_orm::ConnectionTrait, sql: &str) -> T {
    use sea_orm::Statement;
    let row = ok(db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await)
    .unwrap_or_else(|| panic!("{sql} answered nothing"));
    ok(row.try_get_by_index::<T>(0))
}

/// Every service of every replica has its own PostgreSQL pool: the setting
/// caps each, so that their sum can be kept under the server's limit.
#[tokio::test]
async fn each_pool_opens_at_most_database_max_connections() {
    let database = TestDatabase::postgres().await;
    let mut settings = RosterSettings::default();
    settings.common.database_max_connections = 3;
    let ctx = ok(ServiceContext::new(
        settings.common,
        Arc::new(TokenKeys::generate("roster")),
        "http://127.0.0.1:1",
    ));
    let connection = ok(ctx
        .database::<roster_migrations::UsersMigrator>("users", &database.url)
        .await);
    let pool = connection.get_postgres_connection_pool();
    assert_eq!(pool.options().get_max_connections(), 3);
}

/// Pooled statements are prepared once per connection and after a few runs
/// get PostgreSQL's generic plan, so the planner stays out of point reads and
/// writes; a query run through `query_planned_per_run` (the user search) is
/// never prepared, so each run is planned with its own values, which arrive
/// intact however they are quoted.
#[tokio::test]
async fn pooled_statements_are_planned_once_and_searches_every_run() {
    use sea_orm::{
        ConnectionTrait, DbBackend, Statement,
        sea_query::{Alias, Expr, Query},
    };
    let database = TestDatabase::postgres().await;
    // One connection: every statement below runs in the same session.
    let db = ok(roster_kit::db::connect_with(&database.url, Duration::from_secs(10), 1).await);
    let awkward = "it's a \\ back'slash\n\t and \"quotes\" $1 ?";
    let per_run = Query::select()
        .expr_as(Expr::val(awkward), Alias::new("per_run"))
        .to_owned();
    for _ in 0..8 {
        ok(db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT $1::bigint + 1 AS pooled",
                [7i64.into()],
            ))
            .await);
        let rows = ok(roster_kit::db::query_planned_per_run(&db, &per_run).await);
        let echoed: String = ok(rows[0].try_get("", "per_run"));
        assert_eq!(echoed, awkward);
    }
    let prepared: Vec<(String, i64, i64)> = ok(db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
        ))
        .await)
    .iter()
    .map(|row| ok(row.try_get_many_by_index::<(String, i64, i64)>()))
    .collect();
    let pooled = prepared
        .iter()
        .find(|(sql, _, _)| sql.contains("AS pooled"))
        .unwrap_or_else(|| panic!("the pooled statement is not prepared: {prepared:?}"));
    assert!(pooled.1 > 0, "no generic plan after 8 runs: {pooled:?}");
    assert!(
        prepared.iter().all(|(sql, _, _)| !sql.contains("per_run")),
        "the search statement was prepared: {prepared:?}"
    );
}
