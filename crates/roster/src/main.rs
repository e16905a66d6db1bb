//! `roster`: serve the services, run migrations, bootstrap tokens and the first admin.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use futures::FutureExt;
use roster::{DEFAULT_SERVICES, RosterSettings, Service, Suite, relay::Relay};
use roster_kit::{
    TokenKeys, db,
    keys::{self, KeyPurpose, KeySet},
    telemetry,
};
use roster_users::domain::{fields::UserName, login::LoginCredential};

#[derive(Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: the user backbone for chat and social products"
)]
struct Cli {
    /// TOML configuration file (optional; ROSTER_* environment variables override it).
    #[arg(long, short, global = true, env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the named services: the gRPC ones on one port, the gateway on its
    /// own (all of them when none is named).
    Serve { services: Vec<Service> },
    /// Apply pending migrations of the named services (all when none is named).
    Migrate { services: Vec<Service> },
    /// Print tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Grant the global-admin role network-wide to a user (the API refuses to).
    GrantGlobalAdmin {
        /// The user's numeric id.
        user_id: i64,
    },
    /// Manage token signing keys (JSON Web Key sets).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Publish every service's events elsewhere.
    #[command(subcommand)]
    Relay(RelayCommand),
}

#[derive(Subcommand)]
enum RelayCommand {
    /// Publish the users, roles and moderation event streams to NATS JetStream
    /// (`relay.nats.*`), reading them over gRPC from `endpoints.*` (empty: the
    /// server at `listen`) as the `relay` service; runs until SIGTERM/SIGINT.
    Nats,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key to a key file (created when missing). The newest active key
    /// of a purpose signs; older ones keep verifying until pruned.
    Generate {
        /// `session` (user and admin tokens) or `service` (service tokens, file links).
        #[arg(long)]
        purpose: KeyPurpose,
        /// The key file; default: the embedded mode's file under `<data_dir>/keys`.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Seconds until the key starts signing: publish it everywhere first.
        #[arg(long, default_value_t = 0)]
        activate_in: u64,
    },
    /// Print the public keys of key files as one JSON Web Key Set (for
    /// `auth.public_key_files` of the processes that only verify).
    Public { files: Vec<PathBuf> },
    /// Remove keys superseded longer ago than the longest token lifetime.
    Prune {
        /// The key file; default: both embedded files under `<data_dir>/keys`.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print an admin (platform) token signed with the configured key.
    Admin {
        /// Name recorded as the admin client.
        #[arg(long, default_value = "platform")]
        client: String,
        /// Lifetime in seconds (default: auth.admin_token_ttl_secs).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Print a native login credential for a user name, as a LoginRequest in
    /// JSON ({"name", "authToken", "authExpiresAt"}) ready for `Login`. Made
    /// with users.login_secret, as a product backend makes it.
    LoginAuth {
        name: String,
        /// Seconds until the credential expires (at most
        /// users.login_credential_max_ttl_secs).
        #[arg(long, default_value_t = 300)]
        ttl: u64,
    },
}

fn selected(services: &[Service]) -> &[Service] {
    if services.is_empty() {
        DEFAULT_SERVICES
    } else {
        services
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("roster: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings: RosterSettings =
        roster_kit::config::load(cli.config.as_deref()).context("reading configuration")?;
    let common = &settings.common;
    match cli.command {
        Command::Serve { services } => serve(&settings, selected(&services)).await,
        Command::Migrate { services } => migrate(&settings, selected(&services)).await,
        Command::Token(TokenCommand::Admin { client, ttl }) => {
            let keys = TokenKeys::from_settings(&common.auth, &common.data_dir)?;
            let ttl = Duration::from_secs(ttl.unwrap_or(common.auth.admin_token_ttl_secs));
            println!("{}", keys.issue_admin(&client, ttl)?.token);
            Ok(())
        }
        Command::Token(TokenCommand::LoginAuth { name, ttl }) => {
            println!("{}", login_credential(&settings, &name, ttl)?);
            Ok(())
        }
        Command::Keys(command) => manage_keys(&settings, command),
        Command::Relay(RelayCommand::Nats) => relay_nats(&settings).await,
        Command::GrantGlobalAdmin { user_id } => {
            let connection = roster_roles::connect(&settings.roles, common).await?;
            let created = roster_roles::bootstrap_global_admin(&connection, user_id).await?;
            println!(
                "user {user_id} {} global-admin",
                if created { "is now" } else { "already was" }
            );
            Ok(())
        }
    }
}

/// A LoginRequest (JSON) carrying a credential for `name` valid `ttl` seconds.
fn login_credential(settings: &RosterSettings, name: &str, ttl: u64) -> anyhow::Result<String> {
    let users = &settings.users;
    let secret = users
        .login_secret
        .as_ref()
        .filter(|secret| !secret.expose().is_empty())
        .context("users.login_secret is not configured (ROSTER_USERS__LOGIN_SECRET)")?;
    anyhow::ensure!(
        (1..=users.login_credential_max_ttl_secs).contains(&ttl),
        "--ttl must be 1 to {} seconds (users.login_credential_max_ttl_secs)",
        users.login_credential_max_ttl_secs
    );
    UserName::parse(name, "NAME").map_err(|v| anyhow::anyhow!("{}: {}", v.field, v.description))?;
    let expires_at = chrono::Utc::now()
        .timestamp()
        .saturating_add(i64::try_from(ttl)?);
    // Written by hand to keep the fields in LoginRequest's order.
    Ok(format!(
        r#"{{"name": {}, "authToken": "{}", "authExpiresAt": "{expires_at}"}}"#,
        serde_json::to_string(name)?,
        LoginCredential::sign(secret.expose(), name, expires_at),
    ))
}

fn manage_keys(settings: &RosterSettings, command: KeysCommand) -> anyhow::Result<()> {
    let data_dir = &settings.common.data_dir;
    let now = chrono::Utc::now().timestamp();
    match command {
        KeysCommand::Generate {
            purpose,
            file,
            activate_in,
        } => {
            let file = file.unwrap_or_else(|| keys::embedded_key_file(data_dir, purpose));
            let mut set = if file.exists() {
                KeySet::load(&file)?
            } else {
                KeySet::default()
            };
            let activates_at = now.saturating_add(i64::try_from(activate_in)?);
            let kid = set.rotate(purpose, now, activates_at);
            set.save(&file)?;
            println!(
                "{}: added {} key {kid}, signing from {}",
                file.display(),
                purpose.as_str(),
                chrono::DateTime::from_timestamp(activates_at, 0).unwrap_or_default()
            );
        }
        KeysCommand::Public { files } => {
            let mut public = KeySet::default();
            for file in files {
                public.keys.extend(KeySet::load(&file)?.public().keys);
            }
            println!("{}", serde_json::to_string_pretty(&public)?);
        }
        KeysCommand::Prune { file } => {
            let files = match file {
                Some(file) => vec![file],
                None => [KeyPurpose::Session, KeyPurpose::Service]
                    .map(|p| keys::embedded_key_file(data_dir, p))
                    .into_iter()
                    .filter(|f| f.exists())
                    .collect(),
            };
            let lifetime = settings.common.auth.longest_token_lifetime();
            for file in files {
                let mut set = KeySet::load(&file)?;
                let removed = set.prune(now, lifetime);
                set.save(&file)?;
                println!("{}: removed {removed:?}", file.display());
            }
        }
    }
    Ok(())
}

async fn serve(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    let common = &settings.common;
    let _telemetry = telemetry::init(&common.log)?;
    let keys = Arc::new(TokenKeys::from_settings(&common.auth, &common.data_dir)?);
    // A rotated key file (e.g. an updated Kubernetes Secret) applies without a restart.
    let _key_watch = keys.watch_files(Duration::from_secs(10));
    let listener = tokio::net::TcpListener::bind(&common.listen)
        .await
        .with_context(|| format!("listening on {}", common.listen))?;
    let address = listener.local_addr()?;
    // Listening for SIGTERM/SIGINT before the banner says the server is up.
    let shutdown = roster_kit::server::shutdown_signal().shared();
    let admin = match common.admin_listen.as_str() {
        "" => None,
        address => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("admin_listen: listening on {address}"))?,
        ),
    };
    let mut suite = Suite::start(settings, services, keys.clone(), &listener)
        .await
        .context("starting the services")?;
    // Reads this server's streams over gRPC, as it would from another process.
    let _relay = if settings.relay.nats.enabled {
        let ctx = roster::companion_context(settings, keys, address)?;
        Some(Relay::start(&ctx, &settings.relay.nats).context("starting the NATS relay")?)
    } else {
        None
    };
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    tracing::info!(%address, services = ?names, "roster is serving");
    let grpc: Vec<&str> = services
        .iter()
        .filter(|s| **s != Service::Gateway)
        .map(|s| s.name())
        .collect();
    let mut banner = format!(
        "roster listening on {address} (gRPC, plaintext; health and reflection enabled): {}",
        if grpc.is_empty() {
            "no service but health".to_owned()
        } else {
            grpc.join(", ")
        }
    );
    if let Some(http) = suite.gateway_address() {
        banner.push_str(&format!(
            "\nroster HTTP gateway on http://{http} (API document /openapi.json, API page /docs); clients reach it as {}",
            common.public_url
        ));
        banner.push_str(&format!(
            "\nroster admin console on http://{http}/console (sign in with `roster token admin`)"
        ));
    }
    let readiness = roster_kit::admin::Readiness::default();
    suite.readiness(readiness.clone());
    if let Some(admin) = admin {
        banner.push_str(&format!(
            "\nroster admin port on http://{} (/metrics, /livez, /readyz)",
            admin.local_addr()?
        ));
        tokio::spawn(roster_kit::admin::serve(admin, readiness, shutdown.clone()));
    }
    announce(&banner);
    suite.serve(listener, shutdown).await?;
    Ok(())
}

/// Prints the serving banner. A server whose stdout is gone (a closed pipe, a
/// supervisor that stopped reading) keeps serving: `println!` would panic.
fn announce(banner: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{banner}").and_then(|()| stdout.flush());
}

/// `roster relay nats`: the relay alone, with the admin port's metrics.
async fn relay_nats(settings: &RosterSettings) -> anyhow::Result<()> {
    let common = &settings.common;
    let _telemetry = telemetry::init(&common.log)?;
    let keys = Arc::new(TokenKeys::from_settings(&common.auth, &common.data_dir)?);
    let _key_watch = keys.watch_files(Duration::from_secs(10));
    let shutdown = roster_kit::server::shutdown_signal().shared();
    let server: std::net::SocketAddr = tokio::net::lookup_host(&common.listen)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .with_context(|| format!("listen: {} is not an address", common.listen))?;
    let ctx = roster::companion_context(settings, keys, server)?;
    let _relay = Relay::start(&ctx, &settings.relay.nats)?;
    let readiness = roster_kit::admin::Readiness::default();
    readiness.set(true);
    let mut banner = format!(
        "roster relay publishing to NATS {} (stream {})",
        settings.relay.nats.url, settings.relay.nats.stream
    );
    if !common.admin_listen.is_empty() {
        let admin = tokio::net::TcpListener::bind(&common.admin_listen)
            .await
            .with_context(|| format!("admin_listen: listening on {}", common.admin_listen))?;
        banner.push_str(&format!(
            "\nroster admin port on http://{} (/metrics, /livez, /readyz)",
            admin.local_addr()?
        ));
        tokio::spawn(roster_kit::admin::serve(admin, readiness, shutdown.clone()));
    }
    announce(&banner);
    shutdown.await;
    Ok(())
}

async fn migrate(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    let data_dir = &settings.common.data_dir;
    for service in services {
        let url = match service {
            Service::Users => settings.users.database_url(data_dir),
            Service::Roles => settings.roles.database_url(data_dir),
            Service::Files => settings.files.database_url(data_dir),
            Service::Moderation => settings.moderation.database_url(data_dir),
            // The gateway keeps nothing.
            Service::Gateway => continue,
        };
        let connection = db::connect(&url).await?;
        match service {
            Service::Users => db::migrate::<roster_migrations::UsersMigrator>(&connection).await?,
            Service::Roles => db::migrate::<roster_migrations::RolesMigrator>(&connection).await?,
            Service::Files => db::migrate::<roster_migrations::FilesMigrator>(&connection).await?,
            Service::Moderation => {
                db::migrate::<roster_migrations::ModerationMigrator>(&connection).await?
            }
            Service::Gateway => {}
        }
        println!("{}: migrated", service.name());
    }
    Ok(())
}
