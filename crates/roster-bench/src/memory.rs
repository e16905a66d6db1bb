//! Memory: the resident set (RSS) of the `roster` binary serving, idle, on the
//! embedded default (SQLite and local files) — the whole suite in one process,
//! then each service alone — beside the targets it is held to (80 MB all in
//! one, 30 MB a service); then the whole suite's RSS under load (users
//! created, then read at the throughput shape by the lean client).

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Context;

use roster_proto::v1 as pb;

use crate::{
    lean::{self, LeanCall},
    local::TempDir,
    measure::LoadShape,
    report::Row,
};

/// How long a started server is left alone before its RSS is read: past
/// start-up's transient allocations (migrations, first connections).
const SETTLE: Duration = Duration::from_secs(3);

/// Where every peer of a service alone is said to be: nothing listens there,
/// and the service's clients connect lazily.
const NO_PEER: &str = "http://127.0.0.1:9";

const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(shape: LoadShape) -> anyhow::Result<Vec<Row>> {
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
        let server = serve(&binary, services).await?;
        tokio::time::sleep(SETTLE).await;
        let rss = server.rss("VmRSS")?;
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
        if services.is_empty() {
            rows.extend(loaded_rss(&binary, &server, mb, shape).await?);
        }
    }
    Ok(rows)
}

/// Users the loaded run creates and then reads.
const LOADED_USERS: u64 = 10_000;

/// The RSS of `server` (every service) after creating [`LOADED_USERS`] users
/// and reading them at the throughput shape, and its peak on the way.
async fn loaded_rss(
    binary: &PathBuf,
    server: &Server,
    idle_mb: f64,
    shape: LoadShape,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("measuring the RSS of roster serve under load …");
    let token = Command::new(binary)
        .args(["token", "admin"])
        .current_dir(&server.dir.0)
        .env("ROSTER_DATA_DIR", &server.dir.0)
        .env("ROSTER_LOG__FILTER", "error")
        .output()?;
    anyhow::ensure!(token.status.success(), "roster token admin failed");
    let token = String::from_utf8(token.stdout)?.trim().to_owned();
    let create = LeanCall::new("/roster.v1.UserService/CreateUser", &token, |n| {
        pb::CreateUserRequest {
            name: format!("load-{n}"),
            display_name: format!("Load User {n}"),
            ..Default::default()
        }
    });
    let created = lean::measure(
        &server.address,
        create,
        LoadShape {
            unloaded_requests: LOADED_USERS as usize,
            in_flight: 0,
            ..shape
        },
    )
    .await?;
    // The unloaded run stops early when slow: then ids past it would not exist.
    anyhow::ensure!(
        created.latency.requests == LOADED_USERS,
        "created {} users of {LOADED_USERS}",
        created.latency.requests
    );
    let read = LeanCall::new("/roster.v1.UserService/GetUser", &token, |n| {
        pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(
                1 + (crate::measure::splitmix(n) % LOADED_USERS) as i64,
            )),
        }
    });
    let run = lean::measure(
        &server.address,
        read,
        LoadShape {
            unloaded_requests: 0,
            ..shape
        },
    )
    .await?;
    let row = |what: &str, bytes: u64| {
        let mb = bytes as f64 / 1_000_000.0;
        Row {
            what: what.to_owned(),
            shape: "throughput",
            figure: mb,
            unit: "MB",
            p50_ms: run.throughput.p50_ms,
            p99_ms: run.throughput.p99_ms,
            max_ms: None,
            errors: run.throughput.errors,
            ceiling: "idle RSS MB".into(),
            ceiling_figure: idle_mb,
            ratio: mb / idle_mb,
            requests: run.throughput.requests,
            note: Some(format!(
                "{LOADED_USERS} users created one by one, then GetUser of any of them at {:.0} rps ({} in flight); SQLite",
                run.throughput.rps, shape.in_flight
            )),
        }
    };
    Ok(vec![
        row(
            "RSS under load, roster serve (every service and the gateway)",
            server.rss("VmRSS")?,
        ),
        row(
            "peak RSS, roster serve (every service and the gateway)",
            server.rss("VmHWM")?,
        ),
    ])
}

/// Starts `roster serve SERVICES…` in a scratch directory and waits for its
/// banner.
async fn serve(binary: &PathBuf, services: &[&str]) -> anyhow::Result<Server> {
    let dir = TempDir::new()?;
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.to_string()
    };
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .args(services)
        .current_dir(&dir.0)
        .env("ROSTER_DATA_DIR", &dir.0)
        .env("ROSTER_LISTEN", &address)
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
    let mut server = Server {
        child: command.spawn()?,
        address,
        dir,
    };
    let stdout = server.child.stdout.take().context("no stdout")?;
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
    Ok(server)
}

/// The server process, killed when dropped, and where it serves.
struct Server {
    child: Child,
    address: String,
    dir: TempDir,
}

impl Server {
    /// A size line of `/proc/PID/status` (`VmRSS`, `VmHWM`: the peak), in bytes.
    fn rss(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("no {field} in /proc/PID/status"))?
            .parse()?;
        Ok(kib * 1024)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
