//! The suite started exactly as `roster serve` starts it (every service on one
//! port, peers over loopback with service tokens), on the benchmark's database
//! and a scratch data directory.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use roster::{ALL_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    authz::{CheckerSettings, PermissionChecker},
    config::Secret,
    testing::local_listener,
};
use roster_users::UserService;

/// Lifetime of the service tokens the benchmarks issue.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("roster-bench-{:032x}", rand::random::<u128>()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running suite; it serves until the process ends.
pub struct Running {
    pub address: String,
    pub keys: Arc<TokenKeys>,
    pub settings: RosterSettings,
    pub users: UserService,
    _data_dir: TempDir,
}

/// Starts every service over `database_url`; `adjust` changes the settings first.
pub async fn start(
    database_url: &str,
    adjust: impl FnOnce(&mut RosterSettings),
) -> anyhow::Result<Running> {
    start_with_keys(database_url, None, adjust).await
}

/// Like [`start`], signing with `keys` (another replica's) when given.
pub async fn start_with_keys(
    database_url: &str,
    keys: Option<Arc<TokenKeys>>,
    adjust: impl FnOnce(&mut RosterSettings),
) -> anyhow::Result<Running> {
    let data_dir = TempDir::new()?;
    let mut settings = RosterSettings::default();
    settings.common.data_dir = data_dir.0.clone();
    settings.users.database_url = Some(Secret::new(database_url));
    settings.roles.database_url = Some(Secret::new(database_url));
    settings.files.database_url = Some(Secret::new(database_url));
    adjust(&mut settings);
    let keys = keys.unwrap_or_else(|| Arc::new(TokenKeys::generate(&settings.common.auth.issuer)));
    let (listener, address) = local_listener().await;
    let mut suite = Suite::start(&settings, ALL_SERVICES, keys.clone(), &listener).await?;
    let users = suite
        .users
        .take()
        .context("the suite runs the user service")?;
    tokio::spawn(async move {
        let _ = suite.serve(listener, std::future::pending()).await;
    });
    Ok(Running {
        address,
        keys,
        settings,
        users,
        _data_dir: data_dir,
    })
}

/// Like [`start`], but the suite runs on a runtime of its own (its own
/// worker threads), as a separate server process would: the benchmark's
/// hundreds of client tasks then queue on their runtime, not in front of the
/// server's tasks. The suite serves until the process ends.
pub async fn start_isolated(
    database_url: &str,
    adjust: impl FnOnce(&mut RosterSettings) + Send + 'static,
) -> anyhow::Result<Running> {
    let url = database_url.to_owned();
    let (started, running) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("roster-server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = started.send(Err(anyhow::Error::from(err)));
                    return;
                }
            };
            runtime.block_on(async move {
                let _ = started.send(start(&url, adjust).await);
                std::future::pending::<()>().await;
            });
        })?;
    running.await?
}

/// A permission checker for `service`, asking the role service at `address`.
pub fn checker(
    keys: &Arc<TokenKeys>,
    address: &str,
    service: &str,
    settings: CheckerSettings,
) -> anyhow::Result<PermissionChecker> {
    let channel = tonic::service::interceptor::InterceptedService::new(
        roster_kit::client::lazy_channel(address, "bench", None)?,
        roster_kit::client::ServiceCredentials::mint(keys.clone(), service, TOKEN_TTL)?,
    );
    Ok(PermissionChecker::new(channel, settings)?)
}
