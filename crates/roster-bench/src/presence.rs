//! Presence at chat scale: 1 000 users, each with its own session, changing
//! presence at high concurrency through `SetPresence` on PostgreSQL, while a
//! watcher follows `WatchUserEvents`. The ceiling is what PostgreSQL does for
//! the same change written the obvious way: the UPDATE of the user row and
//! the INSERT of its event in one transaction per change, 16 clients on one
//! pool (pgbench's shape). The watcher's figure is the time from a batch's
//! write (its events' `occurred_at`) until the watch stream delivered it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use roster_kit::{auth::BearerToken, testing::TestDatabase};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tonic::{metadata::AsciiMetadataValue, transport::Channel};

use crate::{
    Args, local,
    measure::{self, Latency, LoadShape, Rpc},
    report::Row,
};

/// Distinct users changing presence.
const USERS: usize = 1000;

/// The raw-SQL ceiling's clients (pgbench's shape in the issue that set the target).
const CEILING_CLIENTS: usize = 16;

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    // The server on worker threads of its own, as in its own process.
    let suite = local::start_isolated(&database.url, |settings| {
        settings.moderation.database_url = settings.users.database_url.clone();
    })
    .await?;
    let admin_token = suite.keys.issue_admin("bench", local::TOKEN_TTL)?.token;
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(
            Channel::from_shared(suite.address.clone())?
                .connect()
                .await?,
        );
    }
    let mut admin =
        UserServiceClient::with_interceptor(channels[0].clone(), BearerToken::new(&admin_token)?);
    eprintln!("creating {USERS} users …");
    let mut sessions = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let user = admin
            .create_user(pb::CreateUserRequest {
                name: format!("present-{i}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        let token = suite.keys.issue_user(user.id, 0, local::TOKEN_TTL)?.token;
        sessions.push(AsciiMetadataValue::try_from(format!("Bearer {token}"))?);
    }
    let sessions = Arc::new(sessions);

    let watcher = watch(admin.clone()).await?;
    let set_presence = Rpc {
        lanes: channels.clone(),
        f: move |channel: Channel, n: u64| {
            let sessions = sessions.clone();
            async move {
                let user = (measure::splitmix(n) % USERS as u64) as usize;
                let mut request = tonic::Request::new(pb::SetPresenceRequest {
                    status: Some(
                        if n.is_multiple_of(2) {
                            "AVAILABLE"
                        } else {
                            "AWAY"
                        }
                        .into(),
                    ),
                    online: Some(!n.is_multiple_of(3)),
                    ..Default::default()
                });
                request
                    .metadata_mut()
                    .insert("authorization", sessions[user].clone());
                UserServiceClient::new(channel)
                    .set_presence(request)
                    .await
                    .map(drop)
                    .map_err(|s| s.to_string())
            }
        },
    };
    eprintln!("measuring SetPresence …");
    let unloaded = measure::unloaded(&set_presence, args.unloaded.min(2000)).await?;
    watcher.reset();
    let loaded = measure::throughput(Arc::new(set_presence), args.shape()).await;
    let seen = watcher.latency();

    eprintln!("measuring the raw-SQL ceiling …");
    let ceiling = raw_sql_ceiling(&database.url, args.seconds).await?;
    Ok(vec![
        Row::throughput(
            &format!("SetPresence, {USERS} users"),
            &loaded,
            &format!("raw SQL: UPDATE + event INSERT per transaction, {CEILING_CLIENTS} clients"),
            &ceiling,
        )
        .with_note("batched transactions; changes fanned out live, not kept in the outbox"),
        Row::latency(
            "presence change until seen by a watcher (under that load)",
            &seen,
            "SetPresence unloaded",
            &unloaded,
        )
        .with_note("from the batch's write (event occurred_at) to the watch stream's delivery"),
    ])
}

/// A `WatchUserEvents` follower recording how long each PRESENCE_CHANGED
/// event took from its write to its delivery.
struct Watcher {
    samples: Arc<Mutex<Vec<Duration>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    fn reset(&self) {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn latency(&self) -> Latency {
        let samples = std::mem::take(
            &mut *self
                .samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        measure::of_samples(samples)
    }
}

async fn watch<T>(mut admin: UserServiceClient<T>) -> anyhow::Result<Watcher>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Send + 'static,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    T::Future: Send,
{
    let mut stream = admin
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await?
        .into_inner();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let recorded = samples.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            let written = event
                .meta
                .and_then(|m| m.occurred_at)
                .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
            if let Some(written) = written {
                let delay = (chrono::Utc::now() - written).to_std().unwrap_or_default();
                recorded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(delay);
            }
        }
    });
    Ok(Watcher {
        samples,
        _task: task,
    })
}

/// The same change written one transaction each, straight through a pool.
async fn raw_sql_ceiling(url: &str, seconds: u64) -> anyhow::Result<measure::Throughput> {
    let db = roster_kit::db::connect_with(
        url,
        Duration::from_secs(10),
        u32::try_from(CEILING_CLIENTS)?,
    )
    .await?;
    let payload: String = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT payload FROM user_events ORDER BY seq DESC LIMIT 1",
        ))
        .await?
        .map(|row| row.try_get("", "payload"))
        .transpose()?
        .unwrap_or_default();
    let ids: Vec<i64> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM users ORDER BY id",
        ))
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, _>>()?;
    let (db, ids, payload) = (Arc::new(db), Arc::new(ids), Arc::new(payload));
    let change = Rpc {
        lanes: vec![()],
        f: move |(), n: u64| {
            let (db, ids, payload) = (db.clone(), ids.clone(), payload.clone());
            async move {
                let id = ids[(measure::splitmix(n) % ids.len() as u64) as usize];
                let write = async {
                    let txn = db.begin().await?;
                    txn.execute_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "UPDATE users SET presence_status = $1, online = $2 WHERE id = $3",
                        [
                            if n.is_multiple_of(2) {
                                "AVAILABLE"
                            } else {
                                "AWAY"
                            }
                            .into(),
                            (!n.is_multiple_of(3)).into(),
                            id.into(),
                        ],
                    ))
                    .await?;
                    txn.execute_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "INSERT INTO user_events (user_id, kind, payload, occurred_at) VALUES ($1, 3, $2, now())",
                        [id.into(), payload.as_str().into()],
                    ))
                    .await?;
                    txn.commit().await
                };
                write.await.map_err(|e| e.to_string())
            }
        },
    };
    Ok(measure::throughput(
        Arc::new(change),
        LoadShape {
            unloaded_requests: 0,
            in_flight: CEILING_CLIENTS,
            connections: 1,
            duration: Duration::from_secs(seconds),
        },
    )
    .await)
}
