//! `roster`: serve the services, run migrations, bootstrap tokens and the first admin.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use roster::{ALL_SERVICES, RosterSettings, Service, Suite};
use roster_kit::{TokenKeys, db, telemetry};

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
    /// Grant the global-admin role network-wide to a user (the API refuses to).
    GrantGlobalAdmin {
        /// The user's numeric id.
        user_id: i64,
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
    /// Print the secured-mode login auth token of a user name (needs users.login_secret).
    LoginAuth { name: String },
}

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

async fn serve(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    let common = &settings.common;
    let _telemetry = telemetry::init(&common.log)?;
    let keys = Arc::new(TokenKeys::from_settings(&common.auth, &common.data_dir)?);
    let listener = tokio::net::TcpListener::bind(&common.listen)
        .await
        .with_context(|| format!("listening on {}", common.listen))?;
    let address = listener.local_addr()?;
    let suite = Suite::start(settings, services, keys, &listener)
        .await
        .context("starting the services")?;
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    tracing::info!(%address, services = ?names, "roster is serving");
    println!(
        "roster listening on {address} (gRPC, plaintext; health and reflection enabled): {}",
        names.join(", ")
    );
    suite
        .serve(listener, roster_kit::server::shutdown_signal())
        .await?;
    Ok(())
}

async fn migrate(settings: &RosterSettings, services: &[Service]) -> anyhow::Result<()> {
    let data_dir = &settings.common.data_dir;
    for service in services {
        let url = match service {
            Service::Users => settings.users.database_url(data_dir),
            Service::Roles => settings.roles.database_url(data_dir),
            Service::Files => settings.files.database_url(data_dir),
        };
        let connection = db::connect(&url).await?;
        match service {
            Service::Users => db::migrate::<roster_migrations::UsersMigrator>(&connection).await?,
            Service::Roles => db::migrate::<roster_migrations::RolesMigrator>(&connection).await?,
            Service::Files => db::migrate::<roster_migrations::FilesMigrator>(&connection).await?,
        }
        println!("{}: migrated", service.name());
    }
    Ok(())
}
