//! `roster serve` stops cleanly on SIGTERM: health turns NOT_SERVING first, open
//! watch streams end with a status telling clients to reconnect, a call in
//! flight is answered, and the process exits 0 without waiting for its drain
//! deadline — in the all-in-one mode, where the services' own in-process
//! clients keep connections and streams open.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use roster_kit::auth::BearerToken;
use roster_proto::v1::{self as pb, file_service_client::FileServiceClient};
use tonic::{Code, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The server process; killed if a test fails before it exits.
struct Server {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, address: &str, services: &[&str]) -> Server {
    let mut child = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .args(services)
        .current_dir(dir)
        .env("ROSTER_LISTEN", address)
        .env("ROSTER_SHUTDOWN_DRAIN_MS", "60000")
        .env("ROSTER_LOG__FILTER", "warn")
        .env("ROSTER_GATEWAY__LISTEN", "127.0.0.1:0")
        .env("ROSTER_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let stderr = child.stderr.take().unwrap_or_else(|| unreachable!());
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stdout = BufReader::new(stdout);
    let mut first = String::new();
    ok(stdout.read_line(&mut first));
    assert!(
        first.contains("roster listening on"),
        "roster said {first:?}"
    );
    // Keep reading, as a supervisor would: the rest of the banner follows.
    std::thread::spawn(move || stdout.lines().map_while(Result::ok).for_each(drop));
    Server { child, stderr }
}

fn free_address() -> String {
    let port = ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port();
    format!("127.0.0.1:{port}")
}

fn admin_token(dir: &std::path::Path) -> String {
    let output = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["token", "admin"])
        .current_dir(dir)
        .output());
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn terminate(server: &Server) {
    let status = ok(Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status());
    assert!(status.success());
}

/// What the exited server wrote to stderr.
fn server_log(server: &mut Server) -> String {
    let stderr = std::mem::replace(&mut server.stderr, std::thread::spawn(String::new));
    ok(stderr.join().map_err(|_| "stderr reader panicked"))
}

fn upload_part(part: pb::upload_file_request::Part) -> pb::UploadFileRequest {
    pb::UploadFileRequest { part: Some(part) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_streams_answers_calls_in_flight_and_exits_zero() {
    let dir = std::env::temp_dir().join(format!("roster-shutdown-{}", uuid::Uuid::new_v4()));
    ok(std::fs::create_dir_all(&dir));
    let address = free_address();
    let mut server = start(&dir, &address, &[]);
    let token = admin_token(&dir);
    let channel = ok(ok(Channel::from_shared(format!("http://{address}")))
        .connect()
        .await);
    let bearer = ok(BearerToken::new(&token));

    // Open streams: the health watch (how a readiness probe sees the drain) and
    // a watch of user events.
    let mut health = ok(HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: "roster.v1.UserService".into(),
        })
        .await)
    .into_inner();
    let first = ok(health.message().await).map(|m| m.status());
    assert_eq!(first, Some(ServingStatus::Serving));
    let mut users = pb::user_service_client::UserServiceClient::with_interceptor(
        channel.clone(),
        bearer.clone(),
    );
    let mut events = ok(users
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await)
    .into_inner();

    // A call in flight: an upload whose first half is sent.
    let content = vec![7u8; 128 * 1024];
    let (parts, receiver) = tokio::sync::mpsc::channel(4);
    ok(parts
        .send(upload_part(pb::upload_file_request::Part::Header(
            pb::UploadFileHeader {
                name: "in-flight.bin".into(),
                size: content.len() as u64,
                purpose: pb::FilePurpose::Attachment.into(),
                owner_user_id: 1,
                ..Default::default()
            },
        )))
        .await);
    ok(parts
        .send(upload_part(pb::upload_file_request::Part::Chunk(
            content[..64 * 1024].to_vec().into(),
        )))
        .await);
    let mut files = FileServiceClient::with_interceptor(channel.clone(), bearer);
    let upload = tokio::spawn(async move {
        files
            .upload_file(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });

    terminate(&server);

    // Readiness goes first…
    let drained = ok(health.message().await).map(|m| m.status());
    assert_eq!(drained, Some(ServingStatus::NotServing));
    // …open streams end with UNAVAILABLE / SHUTTING_DOWN…
    let ended = loop {
        match events.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the watch ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert_eq!(
        ended
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone()),
        Some("SHUTTING_DOWN".to_owned())
    );
    // …and the call in flight still completes.
    ok(parts
        .send(upload_part(pb::upload_file_request::Part::Chunk(
            content[64 * 1024..].to_vec().into(),
        )))
        .await);
    drop(parts);
    let stored = ok(ok(upload.await)).into_inner();
    assert_eq!(stored.size, content.len() as i64);

    drop(channel);
    let exit = ok(server.child.wait());
    let log = server_log(&mut server);
    assert!(exit.success(), "roster exited with {exit:?}:\n{log}");
    assert!(
        !log.contains("drain deadline"),
        "the process waited for its drain deadline:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_stops_on_sigterm() {
    // Services alone and together, each process reaching the others by their
    // endpoints: the followers and permission checkers between them must not
    // hold the drain open.
    let dir = std::env::temp_dir().join(format!("roster-shutdown-{}", uuid::Uuid::new_v4()));
    ok(std::fs::create_dir_all(&dir));
    let address = free_address();
    let mut server = start(&dir, &address, &["users", "roles", "files", "moderation"]);
    terminate(&server);
    let exit = ok(server.child.wait());
    let log = server_log(&mut server);
    assert!(
        exit.success(),
        "roster serve users roles files moderation exited with {exit:?}:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
