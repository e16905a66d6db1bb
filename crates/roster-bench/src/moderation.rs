//! Moderation service benchmark, over PostgreSQL:
//! * FlagUser (user sessions flagging users) next to the empty RPC with the
//!   same sessions on the same server;
//! * deleting a user who holds 10 000 flags, 1 000 files and 1 000 grants: the
//!   time from DeleteUser to the USER_DELETED event, with each step's time from
//!   the job (target: under 2 s); and, for the cascade's other flag path, a user
//!   who raised 10 000 flags.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use roster_kit::{auth::BearerToken, config::Secret, testing::TestDatabase};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    file_service_client::FileServiceClient, moderation_service_client::ModerationServiceClient,
    role_service_client::RoleServiceClient,
};
use roster_users::domain::{
    NewUser, UserType,
    fields::{Description, DisplayName, UserName},
};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use crate::{
    Args, local,
    measure::{Rpc, both, splitmix},
    report::Row,
};

/// Users who flag in the FlagUser runs, and users they flag.
const FLAGGERS: u64 = 2_000;
const TARGETS: u64 = 2_000;
/// What the deleted user holds.
const FLAGS: usize = 10_000;
const FILES: usize = 1_000;
const GRANTS: usize = 1_000;
/// Calls in flight while loading (uploads hold more database connections each).
const LOAD_CONCURRENCY: usize = 32;
const UPLOAD_CONCURRENCY: usize = 8;
/// The deletion target of the issue.
const DELETION_TARGET: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Lane {
    moderation: ModerationServiceClient<Channel>,
    diagnostics: DiagnosticsServiceClient<Channel>,
}

type Sessions = Arc<Vec<MetadataValue<Ascii>>>;

/// `message` with `session` as its bearer token.
fn as_user<T>(message: T, session: &MetadataValue<Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", session.clone());
    request
}

fn session(keys: &roster_kit::TokenKeys, user_id: i64) -> anyhow::Result<MetadataValue<Ascii>> {
    let token = keys.issue_user(user_id, 0, local::TOKEN_TTL)?.token;
    Ok(format!("Bearer {token}").parse()?)
}

/// The empty RPC and FlagUser: user `1 + n % FLAGGERS` flags user
/// `1 + FLAGGERS + splitmix(n) % TARGETS` (a new flag, or a changed one).
async fn flag_runs(args: &Args, lanes: &[Lane], sessions: &Sessions) -> anyhow::Result<Vec<Row>> {
    eprintln!("measuring the empty RPC with user sessions (ceiling) …");
    let ping_sessions = sessions.clone();
    let (ping_latency, ping_run) = both(
        Rpc {
            lanes: lanes.to_vec(),
            f: move |mut lane: Lane, n| {
                let request = as_user(pb::PingRequest {}, &ping_sessions[(n % FLAGGERS) as usize]);
                async move {
                    lane.diagnostics
                        .ping(request)
                        .await
                        .map(|_| ())
                        .map_err(|s| s.to_string())
                }
            },
        },
        args.shape(),
    )
    .await?;

    eprintln!("measuring FlagUser …");
    let flag_sessions = sessions.clone();
    let (flag_latency, flag_run) = both(
        Rpc {
            lanes: lanes.to_vec(),
            f: move |mut lane: Lane, n| {
                let target = 1 + FLAGGERS as i64 + (splitmix(n) % TARGETS) as i64;
                let request = as_user(
                    pb::FlagUserRequest {
                        user_id: target,
                        reason: pb::FlagReason::Spam.into(),
                        note: String::new(),
                    },
                    &flag_sessions[(n % FLAGGERS) as usize],
                );
                async move {
                    lane.moderation
                        .flag_user(request)
                        .await
                        .map(|_| ())
                        .map_err(|s| s.to_string())
                }
            },
        },
        args.shape(),
    )
    .await?;
    let empty = "empty RPC (same sessions)";
    Ok(vec![
        Row::latency(
            "Ping (empty RPC, user session)",
            &ping_latency,
            empty,
            &ping_latency,
        ),
        Row::throughput(
            "Ping (empty RPC, user session)",
            &ping_run,
            empty,
            &ping_run,
        ),
        Row::latency("FlagUser", &flag_latency, empty, &ping_latency)
            .with_note(format!("{FLAGGERS} flaggers over {TARGETS} users")),
        Row::throughput("FlagUser", &flag_run, empty, &ping_run)
            .with_note("each flag is also projected onto the user record by the user service"),
    ])
}

/// `calls` run `concurrency` at a time; the first failure stops the load.
async fn load<F, Fut, T>(
    what: &str,
    calls: usize,
    concurrency: usize,
    call: F,
) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    let results = futures::stream::iter((0..calls).map(call))
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await
        .with_context(|| format!("loading {what}"))?;
    eprintln!(
        "  {calls} {what} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(results)
}

struct Holdings {
    /// The last moderation event of the load (the stream resumes after it).
    last_cursor: i64,
}

/// Gives `victim` `files` files and `grants` grants, and `flags` flags: against
/// it by users `flaggers` (when `against`), or raised by it on them.
#[allow(clippy::too_many_arguments)]
async fn hold(
    channel: &Channel,
    keys: &roster_kit::TokenKeys,
    admin: &BearerToken,
    victim: i64,
    flaggers: &[i64],
    against: bool,
    files: usize,
    grants: usize,
) -> anyhow::Result<Holdings> {
    let victim_session = session(keys, victim)?;
    let moderation = ModerationServiceClient::new(channel.clone());
    let flag_sessions: Vec<MetadataValue<Ascii>> = if against {
        flaggers
            .iter()
            .map(|id| session(keys, *id))
            .collect::<anyhow::Result<_>>()?
    } else {
        Vec::new()
    };
    let cursors = load("flags", flaggers.len(), LOAD_CONCURRENCY, |i| {
        let mut client = moderation.clone();
        let (target, caller) = if against {
            (victim, &flag_sessions[i])
        } else {
            (flaggers[i], &victim_session)
        };
        let request = as_user(
            pb::FlagUserRequest {
                user_id: target,
                reason: pb::FlagReason::Spam.into(),
                note: "bench".into(),
            },
            caller,
        );
        async move {
            let response = client.flag_user(request).await?.into_inner();
            Ok(response.event_cursor.parse::<i64>()?)
        }
    })
    .await?;

    let token = victim_session
        .to_str()?
        .trim_start_matches("Bearer ")
        .to_owned();
    let uploader = FileServiceClient::with_interceptor(channel.clone(), BearerToken::new(&token)?);
    load("files", files, UPLOAD_CONCURRENCY, |i| {
        let mut client = uploader.clone();
        async move {
            let content = format!("file {i} of the user being deleted").into_bytes();
            let header = pb::UploadFileHeader {
                name: format!("file-{i}.txt"),
                content_type: "text/plain".into(),
                size: content.len() as u64,
                purpose: pb::FilePurpose::Attachment.into(),
                ..Default::default()
            };
            roster_files::client::upload(&mut client, header, &content, 64 * 1024).await?;
            Ok(())
        }
    })
    .await?;

    let roles = RoleServiceClient::with_interceptor(channel.clone(), admin.clone());
    load("grants", grants, LOAD_CONCURRENCY, |i| {
        let mut client = roles.clone();
        async move {
            client
                .grant_role(pb::GrantRoleRequest {
                    user_id: victim,
                    role: "channel-moderator".into(),
                    scope: Some(pb::Scope {
                        scope: Some(pb::scope::Scope::ChannelId(format!("channel-{i}"))),
                    }),
                    expires_at: None,
                })
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(Holdings {
        last_cursor: cursors.into_iter().max().unwrap_or(0),
    })
}

/// A step's (seconds, nanos) in milliseconds.
fn millis((seconds, nanos): (i64, i32)) -> f64 {
    seconds as f64 * 1000.0 + f64::from(nanos) / 1e6
}

/// Deletes `victim` and follows the moderation events (from after the load)
/// to its USER_DELETED; the rows: the whole, then each step.
async fn measure_deletion(
    channel: &Channel,
    admin: &BearerToken,
    victim: i64,
    after: i64,
    what: &str,
) -> anyhow::Result<Vec<Row>> {
    let mut moderation = ModerationServiceClient::with_interceptor(channel.clone(), admin.clone());
    let mut events = moderation
        .watch_moderation_events(pb::WatchModerationEventsRequest {
            after_cursor: after.to_string(),
            from_now: false,
        })
        .await?
        .into_inner();
    let started = Instant::now();
    let job = moderation
        .delete_user(pb::DeleteUserRequest {
            user_id: victim,
            options: Some(pb::DeletionOptions {
                delete_all: true,
                ..Default::default()
            }),
            dry_run: false,
            reason: "bench".into(),
        })
        .await?
        .into_inner()
        .job
        .context("DeleteUser answered no job")?;
    let answered = started.elapsed();
    let elapsed = loop {
        let event = tokio::time::timeout(Duration::from_secs(600), events.message())
            .await
            .context("no USER_DELETED within 10 minutes")??
            .context("the moderation stream ended")?;
        if event.kind() == pb::ModerationEventKind::UserDeleted && event.deletion_job_id == job.id {
            break started.elapsed();
        }
    };
    let job = moderation
        .get_deletion_job(pb::GetDeletionJobRequest { job_id: job.id })
        .await?
        .into_inner();
    let total_ms = elapsed.as_secs_f64() * 1000.0;
    let target_ms = DELETION_TARGET.as_secs_f64() * 1000.0;
    let mut rows = vec![single(
        what,
        total_ms,
        "target",
        target_ms,
        format!(
            "DeleteUser answered in {:.1} ms; {}",
            answered.as_secs_f64() * 1000.0,
            if elapsed < DELETION_TARGET {
                "under the 2 s target"
            } else {
                "OVER the 2 s target"
            },
        ),
    )];
    for step in &job.steps {
        let completed = step
            .completed_at
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos));
        let started = step
            .started_at
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos));
        let step_ms = millis(completed) - millis(started);
        let erased: Vec<String> = {
            let mut pairs: Vec<_> = step.erased.iter().collect();
            pairs.sort();
            pairs.iter().map(|(k, v)| format!("{k} {v}")).collect()
        };
        rows.push(single(
            &format!("  step {} ({})", step.kind().as_str_name(), step.service),
            step_ms,
            "the deletion",
            total_ms,
            format!("attempts {}; erased {}", step.attempts, erased.join(", ")),
        ));
    }
    Ok(rows)
}

/// A one-off measurement: `ms` beside `ceiling_ms`.
fn single(what: &str, ms: f64, ceiling: &str, ceiling_ms: f64, note: String) -> Row {
    Row {
        what: what.to_owned(),
        shape: "single",
        figure: ms,
        unit: "ms",
        p50_ms: ms,
        p99_ms: ms,
        max_ms: Some(ms),
        errors: 0,
        ceiling: format!("{ceiling} ms"),
        ceiling_figure: ceiling_ms,
        ratio: ms / ceiling_ms,
        requests: 1,
        note: Some(note),
    }
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    let url = database.url.clone();
    let suite = local::start(&database.url, move |settings| {
        settings.moderation.database_url = Some(Secret::new(&url));
    })
    .await?;
    let keys = suite.keys.clone();

    // Flaggers, targets, two users to delete, and the flaggers of the first.
    let users = FLAGGERS + TARGETS + 2 + FLAGS as u64;
    eprintln!("loading {users} users into PostgreSQL …");
    let now = Utc::now();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..users {
        batch.push(NewUser {
            name: UserName::parse(&format!("member{n}"), "name")
                .map_err(|v| anyhow::anyhow!("{v:?}"))?,
            user_type: UserType::Person,
            display_name: DisplayName::parse(&format!("Member {n}"), "display_name")
                .map_err(|v| anyhow::anyhow!("{v:?}"))?,
            description: Description::default(),
            is_guest: false,
            properties: Default::default(),
        });
        if batch.len() == 1000 {
            suite.users.store.import(&batch, now).await?;
            batch.clear();
        }
    }
    suite.users.store.import(&batch, now).await?;
    // Ids follow the load order, from 1.
    let holder = (FLAGGERS + TARGETS + 1) as i64;
    let raiser = holder + 1;
    let others: Vec<i64> = (raiser + 1..=raiser + FLAGS as i64).collect();

    let mut lanes = Vec::new();
    for _ in 0..args.connections {
        let channel = Channel::from_shared(suite.address.clone())?
            .connect()
            .await?;
        lanes.push(Lane {
            moderation: ModerationServiceClient::new(channel.clone()),
            diagnostics: DiagnosticsServiceClient::new(channel),
        });
    }
    let sessions: Sessions = Arc::new(
        (1..=FLAGGERS as i64)
            .map(|id| session(&keys, id))
            .collect::<anyhow::Result<_>>()?,
    );
    let mut rows = flag_runs(args, &lanes, &sessions).await?;

    let channel = Channel::from_shared(suite.address.clone())?
        .connect()
        .await?;
    let admin = BearerToken::new(&keys.issue_admin("bench", local::TOKEN_TTL)?.token)?;
    eprintln!("giving user {holder} {FLAGS} flags against it, {FILES} files and {GRANTS} grants …");
    let held = hold(
        &channel, &keys, &admin, holder, &others, true, FILES, GRANTS,
    )
    .await?;
    eprintln!("deleting it …");
    rows.extend(
        measure_deletion(
            &channel,
            &admin,
            holder,
            held.last_cursor,
            &format!(
                "DeleteUser → USER_DELETED ({FLAGS} flags against, {FILES} files, {GRANTS} grants)"
            ),
        )
        .await?,
    );

    eprintln!("user {raiser} raises {FLAGS} flags, holds {FILES} files and {GRANTS} grants …");
    let raised = hold(
        &channel, &keys, &admin, raiser, &others, false, FILES, GRANTS,
    )
    .await?;
    eprintln!("deleting it …");
    rows.extend(
        measure_deletion(
            &channel,
            &admin,
            raiser,
            raised.last_cursor,
            &format!(
                "DeleteUser → USER_DELETED ({FLAGS} flags raised, {FILES} files, {GRANTS} grants)"
            ),
        )
        .await?,
    );
    println!(
        "\n{users} users in PostgreSQL; {} in flight over {} connections for {} s; {} unloaded requests",
        args.in_flight, args.connections, args.seconds, args.unloaded
    );
    drop(database);
    Ok(rows)
}
