//! `make bench`: measures Roster's RPCs next to the ceilings of the same run,
//! suite by suite:
//! * `users`: users loaded into a fresh PostgreSQL database, each RPC next to an
//!   empty authenticated RPC on the same server and a primary-key select through
//!   the same pool;
//! * `roles`: permission checks over PostgreSQL with mixed grants, and the
//!   in-process `PermissionChecker` cache, next to the empty RPC;
//! * `files`: uploads next to the same bytes written straight to the same
//!   directory, and avatar processing time per image;
//! * `gateway`: `GET /v1/users/{id}` through the HTTP gateway next to
//!   `GetUser` over gRPC on the same suite;
//! * `moderation`: FlagUser next to the empty RPC, and the time to delete a
//!   user holding 10 000 flags, 1 000 files and 1 000 grants, step by step;
//! * `replicas`: how long a change made on one replica takes to reach the other
//!   replica's event stream (two suites on one PostgreSQL database), next to it
//!   reaching a stream of the replica that made it;
//! * `writes`: SetPresence (1 000 users at once, and the delay until a watcher
//!   sees a change), UpdateUser, CreateUser and GrantRole, each next to the
//!   same change written one transaction each in raw SQL;
//! * `memory`: the idle RSS of `roster serve` (SQLite), all in one and each
//!   service alone, beside its target.
//!
//! Each suite prints a table and writes it as JSON to `target/bench/<suite>.json`,
//! keeping the run before as `<suite>.previous.json` and printing each ratio's
//! change since then; `--readme` writes the README's figures table from them.

mod files;
mod gateway;
mod h2load;
mod history;
mod lean;
mod local;
mod measure;
mod memory;
mod moderation;
mod replicas;
mod report;
mod roles;
mod row;
mod users;
mod writes;

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    Users,
    Roles,
    Files,
    Gateway,
    Moderation,
    Replicas,
    Writes,
    Memory,
    All,
    /// No suite (with `--readme`: only rewrite the README's table).
    None,
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Roster benchmarks")]
pub struct Args {
    /// Which suite to run.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    suite: Suite,
    /// Users to load (users: user rows; roles: user ids holding the grants).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Load 1 000 000 users (overrides --users).
    #[arg(long)]
    million: bool,
    /// Seconds of each throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests of each unloaded-latency run (files: at most 1 GiB of uploads per run).
    #[arg(long, default_value_t = 5000)]
    unloaded: usize,
    /// Requests in flight in throughput runs.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    /// HTTP/2 connections in throughput runs.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Concurrent uploaders in the files suite's throughput runs.
    #[arg(long, default_value_t = 4)]
    uploaders: usize,
    /// Afterwards, rewrite the figures table of README.md from target/bench/*.json.
    #[arg(long)]
    readme: bool,
}

impl Args {
    fn shape(&self) -> measure::LoadShape {
        measure::LoadShape {
            unloaded_requests: self.unloaded,
            in_flight: self.in_flight,
            connections: self.connections,
            duration: Duration::from_secs(self.seconds),
        }
    }

    fn user_count(&self) -> usize {
        if self.million { 1_000_000 } else { self.users }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let all = args.suite == Suite::All;
    if all || args.suite == Suite::Users {
        let rows = users::run(&args).await?;
        report::print_and_save("users", &rows)?;
    }
    if all || args.suite == Suite::Roles {
        let rows = roles::run(&args).await?;
        report::print_and_save("roles", &rows)?;
    }
    if all || args.suite == Suite::Files {
        let rows = files::run(&args).await?;
        report::print_and_save("files", &rows)?;
    }
    if all || args.suite == Suite::Gateway {
        let rows = gateway::run(&args).await?;
        report::print_and_save("gateway", &rows)?;
    }
    if all || args.suite == Suite::Moderation {
        let rows = moderation::run(&args).await?;
        report::print_and_save("moderation", &rows)?;
    }
    if all || args.suite == Suite::Replicas {
        let rows = replicas::run(&args).await?;
        report::print_and_save("replicas", &rows)?;
    }
    if all || args.suite == Suite::Writes {
        let rows = writes::run(&args).await?;
        report::print_and_save("writes", &rows)?;
    }
    if all || args.suite == Suite::Memory {
        let rows = memory::run(args.shape()).await?;
        report::print_and_save("memory", &rows)?;
    }
    if args.readme {
        history::write_readme(std::path::Path::new("README.md"))?;
    }
    Ok(())
}
