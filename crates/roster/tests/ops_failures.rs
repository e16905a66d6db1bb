//! Clear failures at the edges: a call cut off by `request_timeout_ms` ends
//! DEADLINE_EXCEEDED with a reason and stores nothing; a lost database answers
//! UNAVAILABLE / UNAVAILABLE (never INTERNAL) and the service recovers once it
//! is back; a service missing a peer refuses to start, naming the setting.

use std::{process::Command, sync::Arc, time::Duration};

use futures::TryStreamExt;
use roster::{ALL_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::Secret,
    testing::{TestDatabase, local_listener},
};
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient, role_service_client::RoleServiceClient,
    upload_file_request::Part, user_service_client::UserServiceClient,
};
use tokio::{net::TcpListener, sync::watch};
use tonic::{Code, Status, transport::Channel};
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

/// A suite of every service on `database_url`, served until dropped.
struct Served {
    address: String,
    keys: Arc<TokenKeys>,
    data_dir: std::path::PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    async fn start(database_url: &str, configure: impl FnOnce(&mut RosterSettings)) -> Self {
        let data_dir = std::env::temp_dir().join(format!("roster-ops-{}", uuid::Uuid::new_v4()));
        let mut settings = RosterSettings::default();
        settings.common.data_dir = data_dir.clone();
        settings.users.database_url = Some(Secret::new(database_url));
        settings.roles.database_url = Some(Secret::new(database_url));
        settings.files.database_url = Some(Secret::new(database_url));
        settings.moderation.database_url = Some(Secret::new(database_url));
        configure(&mut settings);
        let keys = Arc::new(TokenKeys::generate("roster"));
        let (listener, address) = local_listener().await;
        let suite = Suite::start(&settings, ALL_SERVICES, keys.clone(), &listener)
            .await
            .unwrap_or_else(|e| panic!("starting the suite: {e}"));
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
            data_dir,
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
            &ok(self.keys.issue_admin("ops", Duration::from_secs(600))).token,
        ))
    }

    fn session(&self, user: &pb::User) -> BearerToken {
        ok(BearerToken::new(
            &ok(self.keys.issue_user(user.id, 0, Duration::from_secs(600))).token,
        ))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn new_user(name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_client_goes_silent_ends_deadline_exceeded_and_stores_nothing() {
    let database = TestDatabase::sqlite();
    let app = Served::start(&database.url, |settings| {
        settings.common.request_timeout_ms = 500;
    })
    .await;
    let mut users = UserServiceClient::with_interceptor(app.channel().await, app.admin());
    let jane = ok(users.create_user(new_user("jane")).await).into_inner();

    // The header and a first chunk (enough to start writing the object), then
    // silence: the stream stays open, nothing more comes.
    let (parts, receiver) = tokio::sync::mpsc::channel(4);
    let upload = |part| pb::UploadFileRequest { part: Some(part) };
    ok(parts
        .send(upload(Part::Header(pb::UploadFileHeader {
            name: "silent.bin".into(),
            size: 1024 * 1024,
            purpose: pb::FilePurpose::Attachment.into(),
            ..Default::default()
        })))
        .await);
    ok(parts
        .send(upload(Part::Chunk(vec![7u8; 64 * 1024].into())))
        .await);
    let mut files = FileServiceClient::with_interceptor(app.channel().await, app.session(&jane));
    let answer = files
        .upload_file(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await;
    let status = answer
        .err()
        .unwrap_or_else(|| panic!("the silent upload was accepted"));
    assert_refused(&status, Code::DeadlineExceeded, "DEADLINE_EXCEEDED");
    assert!(
        status.message().contains("500 ms"),
        "the message names the deadline: {status:?}"
    );
    drop(parts);

    // Nothing stored: no row, no object.
    let listed = ok(files
        .list_files(pb::ListFilesRequest {
            owner_user_id: jane.id,
            ..Default::default()
        })
        .await)
    .into_inner();
    assert!(listed.files.is_empty(), "{listed:?}");
    let storage = ok(roster_files::store::open_store(
        &roster_files::StorageSettings::default(),
        &app.data_dir,
    ));
    let objects: Vec<_> = ok(storage.list(None).try_collect().await);
    assert!(objects.is_empty(), "objects left behind: {objects:?}");
}

/// A TCP proxy in front of PostgreSQL that the test can cut: every connection
/// through it is dropped and new ones are refused until it is restored.
struct DatabaseProxy {
    port: u16,
    cut: watch::Sender<bool>,
    _task: tokio::task::JoinHandle<()>,
}

impl DatabaseProxy {
    async fn start(upstream: String) -> Self {
        let listener = ok(TcpListener::bind("127.0.0.1:0").await);
        let port = ok(listener.local_addr()).port();
        let (cut, cut_seen) = watch::channel(false);
        let task = tokio::spawn(Self::run(listener, port, upstream, cut_seen));
        Self {
            port,
            cut,
            _task: task,
        }
    }

    async fn run(
        mut listener: TcpListener,
        port: u16,
        upstream: String,
        mut cut: watch::Receiver<bool>,
    ) {
        loop {
            loop {
                let relay_cut = cut.clone();
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        tokio::spawn(Self::relay(client, upstream.clone(), relay_cut));
                    }
                    _ = cut.wait_for(|cut| *cut) => break,
                }
            }
            // Cut: no listener, so connecting is refused, until restored.
            drop(listener);
            if cut.wait_for(|cut| !*cut).await.is_err() {
                return;
            }
            listener = ok(TcpListener::bind(("127.0.0.1", port)).await);
        }
    }

    async fn relay(
        mut client: tokio::net::TcpStream,
        upstream: String,
        mut cut: watch::Receiver<bool>,
    ) {
        let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            _ = cut.wait_for(|cut| *cut) => {}
        }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_answers_unavailable_and_the_service_recovers() {
    let database = TestDatabase::postgres().await;
    let rest = database
        .url
        .strip_prefix("postgres://")
        .unwrap_or_else(|| panic!("not a PostgreSQL URL: {}", database.url));
    let (authority, name) = rest
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("no database name in {}", database.url));
    let (credentials, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let proxy = DatabaseProxy::start(host.to_owned()).await;
    let at = if credentials.is_empty() { "" } else { "@" };
    let proxied = format!(
        "postgres://{credentials}{at}127.0.0.1:{}/{name}",
        proxy.port
    );
    // A short deadline: a call waits for a connection nine tenths of it, then answers.
    let app = Served::start(&proxied, |settings| {
        settings.common.request_timeout_ms = 3000;
    })
    .await;
    let channel = app.channel().await;
    let mut users = UserServiceClient::with_interceptor(channel.clone(), app.admin());
    let mut roles = RoleServiceClient::with_interceptor(channel, app.admin());
    ok(users.create_user(new_user("before")).await);
    let query = || pb::QueryUsersRequest {
        page_size: 10,
        ..Default::default()
    };

    proxy.set_cut(true);
    let read = users.query_users(query()).await.err();
    let write = users.create_user(new_user("during")).await.err();
    let role_write = roles
        .create_role(pb::CreateRoleRequest {
            name: "during".into(),
            description: "made while the database is away".into(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await
        .err();
    let role_read = roles
        .list_roles(pb::ListRolesRequest::default())
        .await
        .err();
    for (what, status) in [
        ("QueryUsers", read),
        ("CreateUser", write),
        ("CreateRole", role_write),
        ("ListRoles", role_read),
    ] {
        let status = status.unwrap_or_else(|| panic!("{what} succeeded without a database"));
        assert_refused(&status, Code::Unavailable, "UNAVAILABLE");
        assert!(
            status.message().contains("retry"),
            "{what}: the message says to retry: {status:?}"
        );
    }

    // Back: the pool opens fresh connections; the first calls may still meet
    // one the cut broke.
    proxy.set_cut(false);
    let mut recovered = None;
    for _ in 0..20 {
        match users.query_users(query()).await {
            Ok(page) => {
                recovered = Some(page.into_inner());
                break;
            }
            Err(status) => assert_refused(&status, Code::Unavailable, "UNAVAILABLE"),
        }
    }
    let page = recovered.unwrap_or_else(|| panic!("the service did not recover"));
    // What failed changed nothing: only the user made before the cut exists.
    let names: Vec<&str> = page.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["before"]);
    let roles_now = ok(roles.list_roles(pb::ListRolesRequest::default()).await).into_inner();
    assert!(
        roles_now.roles.iter().all(|role| role.name != "during"),
        "{roles_now:?}"
    );
    ok(users.create_user(new_user("after")).await);
}

#[test]
fn a_service_without_its_peers_endpoint_refuses_to_start_naming_the_setting() {
    let free = || {
        let port =
            ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port();
        format!("127.0.0.1:{port}")
    };
    for (service, setting) in [
        ("users", "endpoints.roles"),
        ("files", "endpoints.roles"),
        ("roles", "endpoints.users"),
        ("moderation", "endpoints.users"),
    ] {
        let dir = std::env::temp_dir().join(format!("roster-peers-{}", uuid::Uuid::new_v4()));
        ok(std::fs::create_dir_all(&dir));
        let output = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", service])
            .current_dir(&dir)
            .env("ROSTER_LISTEN", free())
            .env("ROSTER_ADMIN_LISTEN", free())
            .env("ROSTER_LOG__FILTER", "warn")
            .output());
        let _ = std::fs::remove_dir_all(&dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "roster serve {service} started without {setting}"
        );
        assert!(
            stderr.contains(setting),
            "roster serve {service}: the error does not name {setting}:\n{stderr}"
        );
    }
}
