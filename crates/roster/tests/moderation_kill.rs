//! A deletion job survives its process being killed: `roster serve` runs as a
//! child process, a deletion starts, the process is killed with SIGKILL between
//! two steps (the test-only pause point holds the runner there; the kill is
//! real), a new process starts on the same data, and the job completes with
//! nothing of the user left in any service — on SQLite (the embedded mode's own
//! files) and on PostgreSQL, with a deletion participant that acknowledges at
//! once and with participants that fail their first calls.
//!
//! Nothing waits on a timer: the test reads the process's log until the runner
//! says it paused, and follows `WatchModerationEvents` until USER_DELETED.

#[path = "suite/moderation/participant.rs"]
mod participant;

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use futures::StreamExt;
use participant::{FakeParticipant, MESSAGES_ERASED};
use roster_kit::{
    auth::BearerToken,
    testing::{Backend, TestDatabase},
};
use roster_proto::v1::{
    self as pb, file_service_client::FileServiceClient,
    moderation_service_client::ModerationServiceClient, role_service_client::RoleServiceClient,
    user_service_client::UserServiceClient,
};
use tokio::sync::mpsc;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};
use tonic_types::StatusExt;

/// Turns a hang into a failure; nothing waits for it to pass.
const DEADLINE: Duration = Duration::from_secs(60);

type Authed = InterceptedService<Channel, BearerToken>;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A `roster serve` process and the lines it writes (stdout and stderr).
struct Roster {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Drop for Roster {
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

impl Roster {
    /// Starts `roster serve` with `config`, and waits until it is serving.
    async fn start(dir: &Path, config: &Path, pause_after: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(["serve", "--config"])
            .arg(config)
            .current_dir(dir)
            .env("ROSTER_LOG__FILTER", "warn")
            .env_remove("ROSTER_MODERATION__TEST_PAUSE_AFTER_STEP")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(step) = pause_after {
            command.env("ROSTER_MODERATION__TEST_PAUSE_AFTER_STEP", step);
        }
        let mut child = ok(command.spawn());
        let (sender, lines) = mpsc::unbounded_channel();
        forward(
            child.stdout.take().unwrap_or_else(|| unreachable!()),
            sender.clone(),
        );
        forward(
            child.stderr.take().unwrap_or_else(|| unreachable!()),
            sender,
        );
        let mut roster = Self { child, lines };
        roster.wait_for_line("roster listening on").await;
        roster
    }

    /// Reads the process's output until a line contains `needle`.
    async fn wait_for_line(&mut self, needle: &str) -> String {
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
                "roster never said {needle:?}; it said:\n{}",
                seen.join("\n")
            ),
        }
    }

    /// SIGKILL: no shutdown, no drain, nothing flushed.
    fn kill(mut self) {
        ok(self.child.kill());
        let status = ok(self.child.wait());
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
}

struct Setup {
    dir: PathBuf,
    config: PathBuf,
    address: String,
    _database: Option<TestDatabase>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port()
}

/// A scratch directory and a configuration file: the participants, quick
/// retries and a short lease (how long a killed process holds its job), and
/// on PostgreSQL every service's database there.
async fn setup(backend: Backend, participants: &[(&str, &FakeParticipant)]) -> Setup {
    let dir = std::env::temp_dir().join(format!("roster-kill-{}", uuid::Uuid::new_v4()));
    ok(std::fs::create_dir_all(&dir));
    let address = format!("127.0.0.1:{}", free_port());
    let database = match backend {
        Backend::Postgres => Some(TestDatabase::new(backend).await),
        Backend::Sqlite => None,
    };
    let mut toml = format!(
        "listen = \"{address}\"\nadmin_listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n\
         [gateway]\nlisten = \"127.0.0.1:0\"\n",
        dir.join("data").display()
    );
    if let Some(database) = &database {
        for service in ["users", "roles", "files"] {
            toml.push_str(&format!(
                "\n[{service}]\ndatabase_url = \"{}\"\n",
                database.url
            ));
        }
    }
    toml.push_str(
        "\n[moderation]\nretry_initial_ms = 20\nretry_max_ms = 200\nrunner_poll_ms = 20\nlease_ms = 1000\n",
    );
    if let Some(database) = &database {
        toml.push_str(&format!("database_url = \"{}\"\n", database.url));
    }
    for (name, participant) in participants {
        toml.push_str(&format!(
            "\n[[moderation.participants]]\nname = \"{name}\"\nendpoint = \"{}\"\n",
            participant.endpoint
        ));
    }
    let config = dir.join("roster.toml");
    ok(std::fs::write(&config, toml));
    Setup {
        dir,
        config,
        address,
        _database: database,
    }
}

impl Setup {
    fn admin_token(&self) -> String {
        let output = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["token", "admin", "--config"])
            .arg(&self.config)
            .current_dir(&self.dir)
            .output());
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    async fn channel(&self) -> Channel {
        ok(ok(Channel::from_shared(format!("http://{}", self.address)))
            .connect()
            .await)
    }

    /// Regular files under the file service's local storage.
    fn stored_files(&self) -> usize {
        fn count(dir: &Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|entry| {
                            let path = entry.path();
                            if path.is_dir() { count(&path) } else { 1 }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        count(&self.dir.join("data").join("files"))
    }
}

struct Clients {
    users: UserServiceClient<Authed>,
    roles: RoleServiceClient<Authed>,
    files: FileServiceClient<Authed>,
    moderation: ModerationServiceClient<Authed>,
}

fn bearer(token: &str) -> BearerToken {
    ok(BearerToken::new(token))
}

fn clients(channel: &Channel, token: &str) -> Clients {
    Clients {
        users: UserServiceClient::with_interceptor(channel.clone(), bearer(token)),
        roles: RoleServiceClient::with_interceptor(channel.clone(), bearer(token)),
        files: FileServiceClient::with_interceptor(channel.clone(), bearer(token)),
        moderation: ModerationServiceClient::with_interceptor(channel.clone(), bearer(token)),
    }
}

/// Jane with a session, a file, a grant, a flag she raised and one against
/// her; returns her id, her session and bob's id.
async fn jane_with_everything(admin: &mut Clients, channel: &Channel) -> (i64, String, i64) {
    let issue = |name: &str| pb::IssueUserTokenRequest {
        name: name.into(),
        display_name: format!("{name} (kill test)"),
        ..Default::default()
    };
    let jane = ok(admin.users.issue_user_token(issue("jane")).await).into_inner();
    let bob = ok(admin.users.issue_user_token(issue("bob")).await).into_inner();
    let (jane_id, bob_id) = (
        jane.user.map(|u| u.id).unwrap_or_default(),
        bob.user.map(|u| u.id).unwrap_or_default(),
    );
    let as_jane = clients(channel, &jane.access_token);
    let mut as_bob = clients(channel, &bob.access_token);
    let header = pb::UploadFileHeader {
        name: "notes.txt".into(),
        content_type: "text/plain".into(),
        size: 5,
        purpose: pb::FilePurpose::Attachment.into(),
        ..Default::default()
    };
    let mut files = as_jane.files.clone();
    ok(roster_files::client::upload(&mut files, header, b"hello", 1024).await);
    ok(admin
        .roles
        .grant_role(pb::GrantRoleRequest {
            user_id: jane_id,
            role: "channel-moderator".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::ChannelId("general".into())),
            }),
            expires_at: None,
        })
        .await);
    let flag = |user_id| pb::FlagUserRequest {
        user_id,
        reason: pb::FlagReason::Spam.into(),
        note: String::new(),
    };
    ok(as_jane.moderation.clone().flag_user(flag(bob_id)).await);
    ok(as_bob.moderation.flag_user(flag(jane_id)).await);
    (jane_id, jane.access_token, bob_id)
}

async fn job(admin: &mut Clients, job_id: i64) -> pb::DeletionJob {
    ok(admin
        .moderation
        .get_deletion_job(pb::GetDeletionJobRequest { job_id })
        .await)
    .into_inner()
}

fn states(job: &pb::DeletionJob) -> Vec<(String, pb::DeletionStepState)> {
    job.steps
        .iter()
        .map(|s| (s.service.clone(), s.state()))
        .collect()
}

/// Nothing of jane in any service; the receipt tells what went where.
async fn assert_nothing_left(
    setup: &Setup,
    admin: &mut Clients,
    channel: &Channel,
    (jane, jane_token, bob): (i64, &str, i64),
) {
    // The user service projects the cleared flags from the moderation stream,
    // which may trail USER_DELETED; its own stream says when it has.
    until_flag_count_cleared(admin, jane).await;
    let user = ok(admin
        .users
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(jane)),
        })
        .await)
    .into_inner();
    assert!(user.is_deleted);
    assert_eq!(
        (
            user.display_name.as_str(),
            user.description.as_str(),
            user.flag_count
        ),
        ("Deleted User", "", 0)
    );
    let grants = ok(admin
        .roles
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: jane,
            ..Default::default()
        })
        .await)
    .into_inner();
    assert!(grants.grants.is_empty());
    let files = ok(admin
        .files
        .list_files(pb::ListFilesRequest {
            owner_user_id: jane,
            ..Default::default()
        })
        .await)
    .into_inner();
    assert!(files.files.is_empty());
    assert_eq!(setup.stored_files(), 0, "stored bytes are left");
    for user_id in [jane, bob] {
        let flags = ok(admin
            .moderation
            .list_flags(pb::ListFlagsRequest {
                user_id,
                ..Default::default()
            })
            .await)
        .into_inner();
        assert_eq!((user_id, flags.flag_count), (user_id, 0));
    }
    let refused = match clients(channel, jane_token)
        .users
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(bob)),
        })
        .await
    {
        Ok(_) => panic!("a deleted user's session works"),
        Err(status) => status,
    };
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(
        refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone()),
        Some("TOKEN_REVOKED".to_owned())
    );
}

/// Follows the user events from the start until `user_id`'s flag count went
/// to zero.
async fn until_flag_count_cleared(admin: &mut Clients, user_id: i64) {
    let mut events = ok(admin
        .users
        .watch_user_events(pb::WatchUserEventsRequest::default())
        .await)
    .into_inner();
    let cleared = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.next().await {
            let event = ok(event);
            let user = event.user.clone().unwrap_or_default();
            if event.kind() == pb::UserEventKind::FlagCountChanged
                && user.id == user_id
                && user.flag_count == 0
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        cleared,
        Ok(true),
        "user {user_id}'s flag count never cleared"
    );
}

/// Follows the moderation events until job `job_id` completed.
async fn until_deleted(admin: &mut Clients, job_id: i64) -> pb::ModerationEvent {
    let mut events = ok(admin
        .moderation
        .watch_moderation_events(pb::WatchModerationEventsRequest::default())
        .await)
    .into_inner();
    let deleted = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.next().await {
            let event = ok(event);
            if event.kind() == pb::ModerationEventKind::UserDeleted
                && event.deletion_job_id == job_id
            {
                return Some(event);
            }
        }
        None
    })
    .await;
    match deleted {
        Ok(Some(event)) => event,
        other => panic!("job {job_id} never completed: {other:?}"),
    }
}

/// Killed right after REVOKE_GRANTS (files not yet erased); a new process
/// finishes the job, calling the participant once.
async fn killed_between_roster_steps_the_job_resumes_where_it_stopped(backend: Backend) {
    let chat = FakeParticipant::start(0).await;
    let setup = setup(backend, &[("chat", &chat)]).await;

    let mut first = Roster::start(&setup.dir, &setup.config, Some("REVOKE_GRANTS")).await;
    let token = setup.admin_token();
    let channel = setup.channel().await;
    let mut admin = clients(&channel, &token);
    let (jane, jane_token, bob) = jane_with_everything(&mut admin, &channel).await;
    assert_eq!(setup.stored_files(), 1);
    let started = ok(admin
        .moderation
        .delete_user(pb::DeleteUserRequest {
            user_id: jane,
            options: Some(pb::DeletionOptions {
                delete_all: true,
                ..Default::default()
            }),
            dry_run: false,
            reason: "kill test".into(),
        })
        .await)
    .into_inner()
    .job
    .unwrap_or_default();

    let paused = first.wait_for_line("paused for tests").await;
    assert!(paused.contains("REVOKE_GRANTS"), "{paused}");
    // Between two steps: jane is a tombstone without grants, her file is still there.
    let midway = job(&mut admin, started.id).await;
    use pb::DeletionStepState as S;
    let expected_midway = [
        ("users", S::Succeeded),
        ("roles", S::Succeeded),
        ("files", S::Pending),
        ("moderation", S::Pending),
        ("chat", S::Pending),
    ]
    .map(|(service, state)| (service.to_owned(), state));
    assert_eq!(states(&midway), expected_midway);
    assert_eq!(midway.state(), pb::DeletionJobState::Running);
    assert!(!midway.lease_owner.is_empty());
    assert_eq!(setup.stored_files(), 1);
    assert!(chat.deletions().is_empty());
    drop(admin);
    drop(channel);
    first.kill();

    let _second = Roster::start(&setup.dir, &setup.config, None).await;
    let channel = setup.channel().await;
    let mut admin = clients(&channel, &token);
    let deleted = until_deleted(&mut admin, started.id).await;
    assert_eq!(deleted.user_id, jane);
    let done = job(&mut admin, started.id).await;
    assert_eq!(done.state(), pb::DeletionJobState::Completed);
    assert!(
        done.steps.iter().all(|s| s.state() == S::Succeeded),
        "{done:?}"
    );
    // Done steps were not done again; the rest once each.
    let attempts: Vec<i32> = done.steps.iter().map(|s| s.attempts).collect();
    assert_eq!(attempts, [1, 1, 1, 1, 1]);
    let erased: Vec<_> = done.steps.iter().map(|s| s.erased.clone()).collect();
    assert_eq!(erased[1].get("role_grants"), Some(&1));
    assert_eq!(erased[2].get("files"), Some(&1));
    assert_eq!(erased[4].get("messages"), Some(&MESSAGES_ERASED));
    let calls = chat.deletions();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((calls[0].0.job_id, calls[0].1), (started.id, true));
    assert_nothing_left(&setup, &mut admin, &channel, (jane, &jane_token, bob)).await;
}

/// Participants that fail their first calls: `chat` fails twice before the
/// kill (retried with backoff, then acknowledges, then the process is killed),
/// `feed` fails twice after the restart. Each acknowledged step is never asked
/// again, and the job completes only once both acknowledged.
async fn killed_with_failing_participants_the_job_still_completes(backend: Backend) {
    let chat = FakeParticipant::start(2).await;
    let feed = FakeParticipant::start(2).await;
    let setup = setup(backend, &[("chat", &chat), ("feed", &feed)]).await;

    let mut first = Roster::start(&setup.dir, &setup.config, Some("NOTIFY_PARTICIPANT:chat")).await;
    let token = setup.admin_token();
    let channel = setup.channel().await;
    let mut admin = clients(&channel, &token);
    let (jane, jane_token, bob) = jane_with_everything(&mut admin, &channel).await;
    let started = ok(admin
        .moderation
        .delete_user(pb::DeleteUserRequest {
            user_id: jane,
            options: Some(pb::DeletionOptions::default()),
            dry_run: false,
            reason: "kill test".into(),
        })
        .await)
    .into_inner()
    .job
    .unwrap_or_default();
    let paused = first.wait_for_line("paused for tests").await;
    assert!(paused.contains("NOTIFY_PARTICIPANT"), "{paused}");
    let midway = job(&mut admin, started.id).await;
    let chat_step = &midway.steps[4];
    assert_eq!(
        (
            chat_step.service.as_str(),
            chat_step.state(),
            chat_step.attempts
        ),
        ("chat", pb::DeletionStepState::Succeeded, 3)
    );
    assert_eq!(midway.steps[5].state(), pb::DeletionStepState::Pending);
    assert!(feed.deletions().is_empty());
    drop(admin);
    drop(channel);
    first.kill();

    let _second = Roster::start(&setup.dir, &setup.config, None).await;
    let channel = setup.channel().await;
    let mut admin = clients(&channel, &token);
    until_deleted(&mut admin, started.id).await;
    let done = job(&mut admin, started.id).await;
    assert_eq!(done.state(), pb::DeletionJobState::Completed);
    let attempts: Vec<(String, i32)> = done
        .steps
        .iter()
        .map(|s| (s.service.clone(), s.attempts))
        .collect();
    let expected = [
        ("users", 1),
        ("roles", 1),
        ("files", 1),
        ("moderation", 1),
        ("chat", 3),
        ("feed", 3),
    ]
    .map(|(service, n)| (service.to_owned(), n));
    assert_eq!(attempts, expected);
    for participant in [&chat, &feed] {
        let answers: Vec<(i64, bool)> = participant
            .deletions()
            .iter()
            .map(|(request, acknowledged)| (request.job_id, *acknowledged))
            .collect();
        assert_eq!(
            answers,
            [(started.id, false), (started.id, false), (started.id, true)]
        );
    }
    assert_nothing_left(&setup, &mut admin, &channel, (jane, &jane_token, bob)).await;
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test(roster_kit::testing::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$test(roster_kit::testing::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    killed_between_roster_steps_the_job_resumes_where_it_stopped,
    killed_with_failing_participants_the_job_still_completes,
);
