//! `roster`: serve the services, run migrations, bootstrap tokens.

mod settings;

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use roster_kit::{TokenKeys, db, server::ServerBuilder, telemetry};
use roster_users::UserService;

use settings::RosterSettings;

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
    /// Serve the named services on one port (all of them when none is named).
    Serve { services: Vec<Service> },
    /// Apply pending migrations of the named services (all when none is named).
    Migrate { services: Vec<Service> },
    /// Print tokens.
    #[command(subcommand)]
    Token(TokenCommand),
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
    /// Print the secured-mode login auth token of a user name (needs users.login_secret).
    LoginAuth { name: String },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Service {
    Users,
}

const ALL_SERVICES: &[Service] = &[Service::Users];

fn selected(services: &[Service]) -> &[Service] {
    if services.is_empty() {
        ALL_SERVICES
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
    match cli.command {
        Command::Serve { services } => serve(&settings, selected(&services)).await,
        Command::Migrate { services } => migrate(&settings, selected(&services)).await,
        Command::Token(TokenCommand::Admin { client, ttl }) => {
            let keys = TokenKeys::from_settings(&settings.common.auth, &settings.common.data_dir)?;
            let ttl = Duration::from_secs(ttl.unwrap_or(settings.common.auth.admin_token_ttl_secs));
            println!("{}", keys.issue_admin(&client, ttl)?.token);
            Ok(())
        }
        Command::Token(TokenCommand::LoginAuth { name }) => {
            let secret = settings
                .users
                .login_secret
                .as_ref()
                .context("users.login_secret is not configured")?;
            println!(
                "{}",
                roster_users::domain::login::login_auth_token(secret.expose(), &name)
            );
            Ok(())
        }
    }
}

async fn serve(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    let common = &settings.common;
    let _telemetry = telemetry::init(&common.log)?;
    let keys = Arc::new(TokenKeys::from_settings(&common.auth, &common.data_dir)?);
    let mut server = ServerBuilder::new(
        keys.clone(),
        Duration::from_millis(common.request_timeout_ms),
    );
    for service in services {
        match service {
            Service::Users => UserService::start(&settings.users, common, keys.clone())
                .await
                .context("starting the user service")?
                .register(&mut server),
        }
    }
    let listener = tokio::net::TcpListener::bind(&common.listen)
        .await
        .with_context(|| format!("listening on {}", common.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "roster is serving");
    println!("roster listening on {address} (gRPC, plaintext; health and reflection enabled)");
    server
        .serve(listener, roster_kit::server::shutdown_signal())
        .await?;
    Ok(())
}

async fn migrate(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    for service in services {
        match service {
            Service::Users => {
                let url = settings.users.database_url(&settings.common.data_dir);
                let connection = db::connect(&url).await?;
                db::migrate::<roster_migrations::UsersMigrator>(&connection).await?;
                println!("users: migrated");
            }
        }
    }
    Ok(())
}
