//! The real processes of the relay tests: `nats-server` with JetStream,
//! `roster serve` and `roster relay nats`, each a child process whose output
//! the test reads to know when it is ready (nothing waits on a timer).

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::sync::mpsc;

/// Turns a hang into a failure; nothing waits for it to pass.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

pub fn free_port() -> u16 {
    ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port()
}

/// A child process and the lines it writes (stdout and stderr).
pub struct Process {
    name: &'static str,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stream: impl Read + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

impl Process {
    /// Spawns `command` and waits until it writes a line containing `ready`.
    pub async fn start(name: &'static str, mut command: Command, ready: &str) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("starting {name}: {err}"));
        let (sender, lines) = mpsc::unbounded_channel();
        forward(
            child.stdout.take().unwrap_or_else(|| unreachable!()),
            sender.clone(),
        );
        forward(
            child.stderr.take().unwrap_or_else(|| unreachable!()),
            sender,
        );
        let mut process = Self { name, child, lines };
        process.wait_for_line(ready).await;
        process
    }

    /// Reads the process's output until a line contains `needle`.
    pub async fn wait_for_line(&mut self, needle: &str) -> String {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                if line.contains(needle) {
                    return Some(line);
                }
                seen.push(line);
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "{} never said {needle:?}; it said:\n{}",
                self.name,
                seen.join("\n")
            ),
        }
    }

    /// SIGKILL: no shutdown, nothing flushed.
    pub fn kill(mut self) {
        ok(self.child.kill());
        let status = ok(self.child.wait());
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
}

/// The nats-server binary: `ROSTER_TEST_NATS_SERVER`, or `nats-server` on the PATH.
fn nats_server_binary() -> PathBuf {
    std::env::var_os("ROSTER_TEST_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| "nats-server".into())
}

/// A nats-server of the test's own, with JetStream storing under `store`, on
/// `port` (the same store and port after a restart).
pub async fn nats_server(store: &Path, port: u16) -> Process {
    let mut command = Command::new(nats_server_binary());
    command
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store);
    Process::start("nats-server", command, "Server is ready").await
}

/// A scratch directory with the configuration `roster serve` and `roster
/// relay nats` share: SQLite under it, the services on a free port, the
/// relay to the test's NATS with quick retries.
pub struct Scratch {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub grpc: String,
    pub nats_port: u16,
    pub nats_store: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Scratch {
    pub fn new(format: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("roster-relay-{}", uuid::Uuid::new_v4()));
        ok(std::fs::create_dir_all(&dir));
        let grpc = format!("127.0.0.1:{}", free_port());
        let nats_port = free_port();
        let config = dir.join("roster.toml");
        ok(std::fs::write(
            &config,
            format!(
                r#"listen = "{grpc}"
admin_listen = ""
data_dir = "{data}"
event_poll_interval_ms = 50

[gateway]
listen = "127.0.0.1:0"

[relay.nats]
url = "nats://127.0.0.1:{nats_port}"
stream = "ROSTER_TEST"
format = "{format}"
retry_initial_ms = 50
retry_max_ms = 500
"#,
                data = dir.join("data").display(),
            ),
        ));
        Self {
            nats_store: dir.join("jetstream"),
            dir,
            config,
            grpc,
            nats_port,
        }
    }

    fn roster(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(&self.dir)
            .env("ROSTER_LOG__FILTER", "error")
            .env("NO_COLOR", "1");
        command
    }

    pub async fn serve(&self) -> Process {
        Process::start(
            "roster serve",
            self.roster(&["serve"]),
            "roster listening on",
        )
        .await
    }

    /// `roster serve` with the relay inside (`relay.nats.enabled`).
    pub async fn serve_with_relay(&self) -> Process {
        let mut command = self.roster(&["serve"]);
        command.env("ROSTER_RELAY__NATS__ENABLED", "true");
        Process::start("roster serve (relay)", command, "roster listening on").await
    }

    pub async fn relay(&self) -> Process {
        Process::start(
            "roster relay nats",
            self.roster(&["relay", "nats"]),
            "roster relay publishing",
        )
        .await
    }

    pub async fn nats(&self) -> Process {
        nats_server(&self.nats_store, self.nats_port).await
    }

    pub fn admin_token(&self) -> String {
        let output = ok(self.roster(&["token", "admin"]).output());
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}
