//! Memory: the resident set (RSS) of the `roster` binary serving, idle, on the
//! embedded default (SQLite and local files) — the whole suite in one process,
//! then each service alone — beside the targets it is held to (80 MB all in
//! one, 30 MB a service).

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context;

use crate::{local::TempDir, report::Row};

/// How long a started server is left alone before its RSS is read: past
/// start-up's transient allocations (migrations, first connections).
const SETTLE: Duration = Duration::from_secs(3);

/// Where every peer of a service alone is said to be: nothing listens there,
/// and the service's clients connect lazily.
const NO_PEER: &str = "http://127.0.0.1:9";

const MIB: f64 = 1024.0 * 1024.0;

pub async fn run() -> anyhow::Result<Vec<Row>> {
    let binary = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .join("roster");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: `cargo build --release -p roster` (make bench does)",
        binary.display()
    );
    let mut rows = Vec::new();
    let runs: [(&str, &[&str], f64); 6] = [
        ("roster serve (every service and the gateway)", &[], 80.0),
        ("roster serve users", &["users"], 30.0),
        ("roster serve roles", &["roles"], 30.0),
        ("roster serve files", &["files"], 30.0),
        ("roster serve moderation", &["moderation"], 30.0),
        ("roster serve gateway", &["gateway"], 30.0),
    ];
    for (what, services, target_mb) in runs {
        eprintln!("measuring the idle RSS of {what} …");
        let rss = idle_rss(&binary, services).await?;
        let mb = rss as f64 / 1_000_000.0;
        rows.push(Row {
            what: format!("idle RSS, {what}"),
            shape: "idle",
            figure: mb,
            unit: "MB",
            p50_ms: 0.0,
            p99_ms: 0.0,
            max_ms: None,
            errors: 0,
            ceiling: format!("target {target_mb} MB"),
            ceiling_figure: target_mb,
            ratio: mb / target_mb,
            requests: 0,
            note: Some(format!(
                "SQLite and local files, {:.1} MiB; read {} s after the banner",
                rss as f64 / MIB,
                SETTLE.as_secs()
            )),
        });
    }
    Ok(rows)
}

/// Starts `roster serve SERVICES…` in a scratch directory, waits for its
/// banner and [`SETTLE`], and returns its RSS in bytes.
async fn idle_rss(binary: &PathBuf, services: &[&str]) -> anyhow::Result<u64> {
    let dir = TempDir::new()?;
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .args(services)
        .current_dir(&dir.0)
        .env("ROSTER_DATA_DIR", &dir.0)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env("ROSTER_GATEWAY__LISTEN", "127.0.0.1:0")
        .env("ROSTER_ADMIN_LISTEN", "")
        .env("ROSTER_LOG__FILTER", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if !services.is_empty() {
        for peer in ["USERS", "ROLES", "FILES", "MODERATION"] {
            if !services.iter().any(|s| s.eq_ignore_ascii_case(peer)) {
                command.env(format!("ROSTER_ENDPOINTS__{peer}"), NO_PEER);
            }
        }
    }
    let mut server = Server(command.spawn()?);
    let stdout = server.0.stdout.take().context("no stdout")?;
    let banner = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).map(|_| (first, reader))
    })
    .await??;
    anyhow::ensure!(
        banner.0.contains("roster listening on"),
        "roster serve {services:?} said {:?}",
        banner.0
    );
    // Drain the rest of the banner, as a supervisor would.
    let rest = banner.1;
    std::thread::spawn(move || rest.lines().map_while(Result::ok).for_each(drop));
    tokio::time::sleep(SETTLE).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id()))?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no VmRSS in /proc/PID/status")?
        .parse()?;
    server.stop();
    Ok(kib * 1024)
}

/// The server process, killed when dropped.
struct Server(Child);

impl Server {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
