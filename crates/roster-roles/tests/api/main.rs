//! The role service over real gRPC, against SQLite and PostgreSQL.
//!
//! One module per capability; every test runs once per backend
//! (`<capability>::{sqlite,postgres}::<test>`). Nothing waits on a timer:
//! streams and the permission checker are awaited on the events they deliver
//! (a generous timeout only turns a hang into a failure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use roster_kit::{
    Actor, TokenKeys,
    auth::BearerToken,
    authz::{CheckerSettings, PermissionChecker, Scope},
    config::{CommonSettings, Secret},
    server::ServerBuilder,
    service::{RosterService, ServiceContext},
    testing::{Backend, TestDatabase, local_listener},
};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use roster_roles::{BuiltInRole, CATALOGUE, Clock, MATRIX, RoleService, RolesSettings};
use sea_orm::DatabaseConnection;
use tonic::{Code, Status, service::interceptor::InterceptedService, transport::Channel};
use tonic_types::StatusExt;

type Client = RoleServiceClient<InterceptedService<Channel, BearerToken>>;

/// One key ring for every instance of a test, as replicas of one deployment share theirs.
static KEYS: std::sync::LazyLock<Arc<TokenKeys>> =
    std::sync::LazyLock::new(|| Arc::new(TokenKeys::generate("roster")));
const GUARD: Duration = Duration::from_secs(30);

// ---- harness -------------------------------------------------------------------

struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct TestApp {
    address: String,
    keys: Arc<TokenKeys>,
    clock: Arc<ManualClock>,
    db: DatabaseConnection,
    database: Arc<TestDatabase>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .try_init();
    }
}

async fn spawn_app(backend: Backend) -> TestApp {
    spawn_on(Arc::new(TestDatabase::new(backend).await)).await
}

/// A server instance on `database` (several instances may share one), started
/// as the suite starts every service, on a clock the test moves.
async fn spawn_on(database: Arc<TestDatabase>) -> TestApp {
    init_logs();
    let common = CommonSettings {
        event_poll_interval_ms: 20,
        ..CommonSettings::default()
    };
    let settings = RolesSettings {
        database_url: Some(Secret::new(database.url.clone())),
    };
    let keys = KEYS.clone();
    let (listener, address) = local_listener().await;
    let context = ServiceContext::new(common.clone(), keys.clone(), &address).expect("context");
    let clock = Arc::new(ManualClock(Mutex::new(Utc::now())));
    let service = RoleService::start_with_clock(&context, &settings, clock.clone())
        .await
        .expect("start the role service");
    let mut server = ServerBuilder::new(
        keys.clone(),
        Duration::from_millis(common.request_timeout_ms),
    );
    service.register(&mut server);
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stop = async {
            let _ = stop.await;
        };
        if let Err(err) = server.serve(listener, stop).await {
            eprintln!("server failed: {err}");
        }
    });
    // For what the operator does beside the API (bootstrap_global_admin).
    let db = roster_roles::connect(&settings, &common)
        .await
        .expect("connect");
    TestApp {
        address,
        keys,
        clock,
        db,
        database,
        _shutdown: shutdown,
    }
}

impl TestApp {
    async fn client(&self, token: &str) -> Client {
        let channel = Channel::from_shared(self.address.clone())
            .expect("address")
            .connect()
            .await
            .expect("connect to the server");
        RoleServiceClient::with_interceptor(channel, BearerToken::new(token).expect("token"))
    }

    async fn admin(&self) -> Client {
        let token = self
            .keys
            .issue_admin("platform", Duration::from_secs(3600))
            .expect("admin token");
        self.client(&token.token).await
    }

    async fn service_client(&self) -> Client {
        let token = self
            .keys
            .issue_service("moderation", Duration::from_secs(3600))
            .expect("service token");
        self.client(&token.token).await
    }

    async fn user(&self, user_id: i64) -> Client {
        let token = self
            .keys
            .issue_user(user_id, 0, Duration::from_secs(3600))
            .expect("user token");
        self.client(&token.token).await
    }
}

/// Runs each named test of the calling module once on SQLite, once on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

mod checks;
mod events;
mod grants;
mod roles;
mod user_grants;

// ---- helpers -------------------------------------------------------------------

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

fn fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    why: &str,
) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
    status
}

fn network() -> Option<pb::Scope> {
    Some(Scope::Network.to_proto())
}

fn channel(id: &str) -> Option<pb::Scope> {
    Some(Scope::Channel(id.into()).to_proto())
}

fn community(id: &str) -> Option<pb::Scope> {
    Some(Scope::Community(id.into()).to_proto())
}

fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

async fn grant(
    client: &mut Client,
    user_id: i64,
    role: &str,
    scope: Option<pb::Scope>,
) -> pb::GrantRoleResponse {
    client
        .grant_role(pb::GrantRoleRequest {
            user_id,
            role: role.into(),
            scope,
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("granting {role} to {user_id}: {s:?}"))
        .into_inner()
}

async fn create_role(client: &mut Client, name: &str, permissions: &[&str]) -> pb::Role {
    client
        .create_role(pb::CreateRoleRequest {
            name: name.into(),
            description: format!("test role {name}"),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        })
        .await
        .unwrap_or_else(|s| panic!("creating {name}: {s:?}"))
        .into_inner()
}

async fn allowed(
    client: &mut Client,
    user_id: i64,
    permission: &str,
    scope: Option<pb::Scope>,
) -> bool {
    client
        .check_permission(pb::CheckPermissionRequest {
            user_id,
            permission: permission.into(),
            scope,
        })
        .await
        .unwrap_or_else(|s| panic!("checking {permission}: {s:?}"))
        .into_inner()
        .allowed
}

/// A permission checker following `app`, as another service would hold one;
/// connected to the event stream on return.
async fn checker_on(app: &TestApp) -> PermissionChecker {
    let channel = tonic::service::interceptor::InterceptedService::new(
        roster_kit::client::lazy_channel(&app.address, "test", None).unwrap(),
        roster_kit::client::ServiceCredentials::mint(
            app.keys.clone(),
            "users",
            Duration::from_secs(60),
        )
        .unwrap(),
    );
    let checker = PermissionChecker::new(channel, CheckerSettings::default()).unwrap();
    tokio::time::timeout(GUARD, checker.wait_until_live())
        .await
        .expect("stream connected");
    checker
}

async fn next_event(stream: &mut tonic::Streaming<pb::RoleEvent>) -> pb::RoleEvent {
    tokio::time::timeout(GUARD, stream.message())
        .await
        .expect("no event arrived")
        .expect("stream failed")
        .expect("stream ended")
}
