//! Starts the real suite (users, roles, files, moderation in one process, as
//! `roster serve` does) on a random local port over a fresh database.

use std::{sync::Arc, time::Duration};

use roster::{ALL_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::Secret,
    testing::{Backend, TestDatabase, local_listener},
};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use roster_users::{UserService, UsersSettings};
use tokio::sync::oneshot;
use tonic::{Code, Status, service::interceptor::InterceptedService, transport::Channel};
use tonic_types::StatusExt;

pub type Client = UserServiceClient<InterceptedService<Channel, BearerToken>>;

/// One key ring for every server of the test binary, as the replicas of one
/// deployment share theirs.
static KEYS: std::sync::LazyLock<Arc<TokenKeys>> =
    std::sync::LazyLock::new(|| Arc::new(TokenKeys::generate("roster")));

pub struct TestApp {
    pub address: String,
    pub keys: Arc<TokenKeys>,
    pub database_url: String,
    /// Where the moderation service keeps its tables.
    pub moderation_database_url: String,
    pub users: UserService,
    pub data_dir: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    _database: Option<TestDatabase>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut UsersSettings)) -> Self {
        let database = TestDatabase::new(backend).await;
        let url = database.url.clone();
        let mut app = Self::spawn_on(&url, configure).await;
        app._database = Some(database);
        app
    }

    /// Like [`TestApp::spawn_with`], with the whole suite's settings to change
    /// (e.g. `moderation.participants`).
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut RosterSettings),
    ) -> Self {
        let database = TestDatabase::new(backend).await;
        let url = database.url.clone();
        let mut app = Self::spawn_on_configured(&url, configure).await;
        app._database = Some(database);
        app
    }

    /// Another server over an existing database (e.g. a second replica).
    pub async fn spawn_on(database_url: &str, configure: impl FnOnce(&mut UsersSettings)) -> Self {
        Self::spawn_on_configured(database_url, |settings| configure(&mut settings.users)).await
    }

    /// Like [`TestApp::spawn_on`], with the whole suite's settings to change.
    pub async fn spawn_on_configured(
        database_url: &str,
        configure: impl FnOnce(&mut RosterSettings),
    ) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = roster_kit::telemetry::init(&Default::default());
        }
        let data_dir = temp_data_dir();
        let mut settings = suite_settings(database_url, &data_dir);
        configure(&mut settings);
        let keys = KEYS.clone();
        let (listener, address) = local_listener().await;
        let mut suite = Suite::start(&settings, ALL_SERVICES, keys.clone(), &listener)
            .await
            .unwrap_or_else(|e| panic!("starting the suite: {e}"));
        let users = suite
            .users
            .take()
            .unwrap_or_else(|| panic!("the user service runs in the suite"));
        let shutdown = serve_in_background(suite, listener);
        Self {
            address,
            keys,
            database_url: database_url.to_owned(),
            moderation_database_url: settings.moderation.database_url(&data_dir),
            users,
            data_dir,
            shutdown: Some(shutdown),
            _database: None,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.address.clone())
            .unwrap_or_else(|e| panic!("{e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.address))
    }

    pub async fn client(&self, token: &str) -> Client {
        let bearer = BearerToken::new(token).unwrap_or_else(|e| panic!("{e}"));
        UserServiceClient::with_interceptor(self.channel().await, bearer)
    }

    pub async fn anonymous(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel().await)
    }

    pub fn admin_token(&self) -> String {
        self.keys
            .issue_admin("tests", Duration::from_secs(3600))
            .unwrap_or_else(|e| panic!("{e}"))
            .token
    }

    pub async fn admin(&self) -> Client {
        self.client(&self.admin_token()).await
    }

    /// A session of `user` (generation 0, as for a never-revoked user).
    pub async fn as_user(&self, user: &pb::User) -> Client {
        let token = self
            .keys
            .issue_user(user.id, 0, Duration::from_secs(3600))
            .unwrap_or_else(|e| panic!("{e}"))
            .token;
        self.client(&token).await
    }
}

fn temp_data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("roster-suite-{}", uuid::Uuid::new_v4()))
}

/// Every service on one database (but see moderation), files under `data_dir`.
fn suite_settings(database_url: &str, data_dir: &std::path::Path) -> RosterSettings {
    let mut settings = RosterSettings::default();
    settings.common.data_dir = data_dir.to_owned();
    settings.users.database_url = Some(Secret::new(database_url));
    settings.roles.database_url = Some(Secret::new(database_url));
    settings.files.database_url = Some(Secret::new(database_url));
    // On SQLite, moderation keeps its own file (`<data_dir>/moderation.db`), as
    // in the embedded mode: its audit log writes on every role event, which on
    // one shared file would contend with the other services' writers.
    if !database_url.starts_with("sqlite:") {
        settings.moderation.database_url = Some(Secret::new(database_url));
    }
    settings
}

/// Serves until the returned sender is dropped or fired.
fn serve_in_background(suite: Suite, listener: tokio::net::TcpListener) -> oneshot::Sender<()> {
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        suite
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap_or_else(|e| panic!("server failed: {e}"));
    });
    shutdown
}

/// Some services in a process of their own, reaching the user service of `app`
/// (as in a split deployment), and checking every user session with it.
pub struct Apart {
    pub address: String,
    _shutdown: oneshot::Sender<()>,
}

impl Apart {
    pub async fn spawn(app: &TestApp, services: &[roster::Service]) -> Self {
        Self::spawn_with(app, services, |settings| {
            settings.common.auth.session_cache_ms = 0;
        })
        .await
    }

    /// Like [`Apart::spawn`], with its settings to change.
    pub async fn spawn_with(
        app: &TestApp,
        services: &[roster::Service],
        configure: impl FnOnce(&mut RosterSettings),
    ) -> Self {
        let mut settings = suite_settings(&app.database_url, &app.data_dir);
        settings.common.endpoints.users = app.address.clone();
        configure(&mut settings);
        let (listener, address) = local_listener().await;
        let suite = Suite::start(&settings, services, app.keys.clone(), &listener)
            .await
            .unwrap_or_else(|e| panic!("starting {services:?}: {e}"));
        Self {
            address,
            _shutdown: serve_in_background(suite, listener),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub async fn create(client: &mut Client, name: &str, display_name: &str) -> pb::User {
    client
        .create_user(pb::CreateUserRequest {
            name: name.into(),
            display_name: display_name.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("creating {name}: {s:?}"))
        .into_inner()
}

/// Asserts the status code and the machine-readable reason.
pub fn assert_refused(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some(reason),
        "unexpected reason in {status:?}"
    );
}

/// Field paths named by a status's BadRequest detail.
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

pub fn expect_err<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Status {
    match result {
        Ok(response) => panic!("expected an error, got {:?}", response.into_inner()),
        Err(status) => status,
    }
}

/// Generates one `#[tokio::test]` per backend for an `async fn(Backend)`.
#[macro_export]
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

/// A plain RGB PNG of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("encoding a PNG: {e}"));
    bytes.into_inner()
}

pub type FileClient =
    pb::file_service_client::FileServiceClient<InterceptedService<Channel, BearerToken>>;

/// The file service as `user`.
pub async fn files_as(app: &TestApp, user: &pb::User) -> FileClient {
    let token = app
        .keys
        .issue_user(user.id, 0, Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    pb::file_service_client::FileServiceClient::with_interceptor(
        app.channel().await,
        BearerToken::new(&token).unwrap_or_else(|e| panic!("{e}")),
    )
}

/// Uploads `bytes` as `owner` through the file service.
pub async fn upload(
    app: &TestApp,
    owner: &pb::User,
    purpose: pb::FilePurpose,
    bytes: &[u8],
) -> pb::File {
    let mut files = files_as(app, owner).await;
    let header = pb::UploadFileHeader {
        name: "upload".into(),
        content_type: String::new(),
        size: bytes.len() as u64,
        purpose: purpose.into(),
        ..Default::default()
    };
    roster_files::client::upload(&mut files, header, bytes, 64 * 1024)
        .await
        .unwrap_or_else(|s| panic!("uploading: {s:?}"))
}

pub fn by_id(id: i64) -> Option<pb::UserRef> {
    Some(pb::UserRef {
        r#ref: Some(pb::user_ref::Ref::Id(id)),
    })
}

/// An unguarded UpdateUser of the display name.
pub fn rename(id: i64, to: &str) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        user: by_id(id),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["display_name".into()],
        }),
        patch: Some(pb::UserPatch {
            display_name: to.into(),
            ..Default::default()
        }),
        expected_version: 0,
    }
}
