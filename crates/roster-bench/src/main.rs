//! `make bench`: loads users into a fresh PostgreSQL database, serves them on a
//! local port, and measures each RPC next to the ceilings of the same run (an
//! empty authenticated RPC on the same server, a primary-key select through
//! the same pool). Prints a table and writes it as JSON under `target/bench/`.

mod measure;
mod report;
mod users;

use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(about = "Roster benchmarks")]
pub struct Args {
    /// Users to load.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Load 1 000 000 users (overrides --users).
    #[arg(long)]
    million: bool,
    /// Seconds of each throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests of each unloaded-latency run.
    #[arg(long, default_value_t = 5000)]
    unloaded: usize,
    /// Requests in flight in throughput runs.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    /// HTTP/2 connections in throughput runs.
    #[arg(long, default_value_t = 4)]
    connections: usize,
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
    let rows = users::run(&args).await?;
    report::print_and_save("users", &rows)?;
    Ok(())
}
