//! The write paths on PostgreSQL, each beside its raw-SQL ceiling: the same
//! change written the obvious way, the row statement and the INSERT of its
//! event in one transaction, 16 clients on one pool ([`ceiling`]), each
//! measured right after the service's run of the same path.
//!
//! * SetPresence: 1 000 users, each with its own session, changing presence
//!   at high concurrency, while a watcher follows `WatchUserEvents` and times
//!   each change from its write (its event's `occurred_at`) to its delivery;
//! * UpdateUser: the display name of one of those users (a new sort key too);
//! * CreateUser: a new user each call;
//! * GrantRole: channel-moderator in a new channel each call.
//!
//! Calls come from the lean client (its own thread and CPU share), the
//! server runs on worker threads of its own.

mod ceiling;
mod watcher;

use roster_kit::testing::TestDatabase;
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use std::sync::Arc;

use sea_orm::{DatabaseConnection, Value};
use tonic::transport::Channel;

use crate::{
    Args,
    lean::{self, LeanCall, LeanRun},
    local,
    measure::{self, LoadShape, Throughput},
    report::Row,
};

/// Distinct users changing presence (and profiles).
const USERS: usize = 1000;

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    // The server on worker threads of its own, as in its own process.
    let suite = local::start_isolated(&database.url, |settings| {
        settings.moderation.database_url = settings.users.database_url.clone();
    })
    .await?;
    let admin_token = suite.keys.issue_admin("bench", local::TOKEN_TTL)?.token;
    let channel = Channel::from_shared(suite.address.clone())?
        .connect()
        .await?;
    let mut admin = UserServiceClient::with_interceptor(
        channel,
        roster_kit::auth::BearerToken::new(&admin_token)?,
    );
    eprintln!("creating {USERS} users …");
    let mut ids = Vec::with_capacity(USERS);
    let mut sessions = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let user = admin
            .create_user(pb::CreateUserRequest {
                name: format!("present-{i}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        sessions.push(suite.keys.issue_user(user.id, 0, local::TOKEN_TTL)?.token);
        ids.push(user.id);
    }
    let user_of = |n: u64| (measure::splitmix(n) % USERS as u64) as usize;
    let shape = LoadShape {
        unloaded_requests: args.unloaded.min(2000),
        ..args.shape()
    };
    let address = suite.address.clone();
    let lean = |what: &str, call: LeanCall| {
        eprintln!("measuring {what} (lean client) …");
        lean::measure(&address, call, shape)
    };

    let ceilings = Ceilings::new(&database.url, &ids, args.seconds).await?;
    let watcher = watcher::watch(admin.clone()).await?;
    let presence = lean(
        "SetPresence",
        LeanCall::per_caller("/roster.v1.UserService/SetPresence", sessions, move |n| {
            let status = if n.is_multiple_of(2) {
                "AVAILABLE"
            } else {
                "AWAY"
            };
            (
                user_of(n),
                pb::SetPresenceRequest {
                    status: Some(status.into()),
                    online: Some(!n.is_multiple_of(3)),
                    ..Default::default()
                },
            )
        }),
    );
    watcher.reset();
    let presence = presence.await?;
    let seen = watcher.latency();
    let presence_ceiling = ceilings.presence().await?;

    let user_ids = ids.clone();
    let update = lean(
        "UpdateUser",
        LeanCall::new(
            "/roster.v1.UserService/UpdateUser",
            &admin_token,
            move |n| pb::UpdateUserRequest {
                user: Some(pb::UserRef {
                    r#ref: Some(pb::user_ref::Ref::Id(user_ids[user_of(n)])),
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                patch: Some(pb::UserPatch {
                    display_name: format!("Writer {n}"),
                    ..Default::default()
                }),
                expected_version: 0,
            },
        ),
    )
    .await?;
    let update_ceiling = ceilings.update().await?;
    let create = lean(
        "CreateUser",
        LeanCall::new("/roster.v1.UserService/CreateUser", &admin_token, |n| {
            pb::CreateUserRequest {
                name: format!("new-{n}"),
                display_name: format!("New User {n}"),
                ..Default::default()
            }
        }),
    )
    .await?;
    let create_ceiling = ceilings.create().await?;
    let user_ids = ids.clone();
    let grant = lean(
        "GrantRole",
        LeanCall::new("/roster.v1.RoleService/GrantRole", &admin_token, move |n| {
            pb::GrantRoleRequest {
                user_id: user_ids[user_of(n)],
                role: "channel-moderator".into(),
                scope: Some(pb::Scope {
                    scope: Some(pb::scope::Scope::ChannelId(format!("bench-{n}"))),
                }),
                expires_at: None,
            }
        }),
    )
    .await?;

    let grant_ceiling = ceilings.grant().await?;

    let name = |what: &str| {
        format!(
            "raw SQL: {what} + event INSERT per transaction, {} clients",
            ceiling::CLIENTS
        )
    };
    let mut rows = vec![
        lean_row(
            &format!("SetPresence, {USERS} users"),
            &presence,
            &name("UPDATE users (presence)"),
            &presence_ceiling,
        )
        .with_note(format!(
            "{}; batched transactions, changes fanned out live, not kept in the outbox",
            presence.note()
        )),
        Row::latency(
            "presence change until seen by a watcher (under that load)",
            &seen,
            "SetPresence unloaded",
            &presence.latency,
        )
        .with_note("from the batch's write (event occurred_at) to the watch stream's delivery"),
    ];
    for (what, run, sql, ceiling) in [
        (
            "UpdateUser (display name)",
            &update,
            "UPDATE users (name, sort key, version)",
            &update_ceiling,
        ),
        ("CreateUser", &create, "INSERT users", &create_ceiling),
        (
            "GrantRole (channel scope)",
            &grant,
            "INSERT role_grants",
            &grant_ceiling,
        ),
    ] {
        rows.push(Row::latency(what, &run.latency, what, &run.latency).with_note(run.note()));
        rows.push(lean_row(what, run, &name(sql), ceiling).with_note(run.note()));
    }
    for (sql, ceiling) in [
        ("UPDATE users (presence)", &presence_ceiling),
        ("UPDATE users (name, sort key, version)", &update_ceiling),
        ("INSERT users", &create_ceiling),
        ("INSERT role_grants", &grant_ceiling),
    ] {
        let what = name(sql);
        rows.push(Row::throughput(&what, ceiling, &what, ceiling));
    }
    println!(
        "\nPostgreSQL; {} in flight over {} connections for {} s; ceilings: {} clients on one pool",
        args.in_flight,
        args.connections,
        args.seconds,
        ceiling::CLIENTS
    );
    drop(database);
    Ok(rows)
}

/// A lean run's throughput beside a raw-SQL ceiling's.
fn lean_row(what: &str, run: &LeanRun, ceiling: &str, ceiling_run: &Throughput) -> Row {
    Row::throughput(what, &run.throughput, ceiling, ceiling_run)
}

/// The raw-SQL ceilings of the four write paths, each measured right after
/// the service's run of the same path, so both see the machine in the same
/// state (on a shared machine it drifts over a suite's minutes).
struct Ceilings {
    db: Arc<DatabaseConnection>,
    ids: Arc<[i64]>,
    seconds: u64,
}

impl Ceilings {
    async fn new(url: &str, ids: &[i64], seconds: u64) -> anyhow::Result<Self> {
        Ok(Self {
            db: ceiling::pool(url).await?,
            ids: ids.into(),
            seconds,
        })
    }

    /// Throughput of `change`, written with the outbox triggers off.
    async fn measure(
        &self,
        change: impl Fn(u64) -> ceiling::Change + Send + Sync + 'static,
    ) -> anyhow::Result<Throughput> {
        eprintln!("measuring its raw-SQL ceiling …");
        ceiling::without_outbox_triggers(&self.db).await?;
        let run = ceiling::measure(self.db.clone(), self.seconds, change).await;
        ceiling::restore_outbox_triggers(&self.db).await?;
        Ok(run)
    }

    fn id_of(&self) -> impl Fn(u64) -> i64 + Send + Sync + 'static {
        let ids = self.ids.clone();
        move |n: u64| ids[(measure::splitmix(n) % ids.len() as u64) as usize]
    }

    /// An UPDATE of one of the users' rows (`statement` of the call number
    /// and the user) with the user event of `kind`.
    async fn user_update(
        &self,
        kind: i16,
        statement: impl Fn(u64, i64) -> (&'static str, Vec<Value>) + Send + Sync + 'static,
    ) -> anyhow::Result<Throughput> {
        let payload = ceiling::sample_payload(&self.db, "user_events").await?;
        let id_of = self.id_of();
        self.measure(move |n| {
            let id = id_of(n);
            vec![statement(n, id), user_event(id, kind, &payload)]
        })
        .await
    }

    async fn presence(&self) -> anyhow::Result<Throughput> {
        self.user_update(3, |n, id| {
            (
                "UPDATE users SET presence_status = $1, online = $2 WHERE id = $3",
                vec![
                    Value::from(if n.is_multiple_of(2) {
                        "AVAILABLE"
                    } else {
                        "AWAY"
                    }),
                    Value::from(!n.is_multiple_of(3)),
                    Value::from(id),
                ],
            )
        })
        .await
    }

    async fn update(&self) -> anyhow::Result<Throughput> {
        self.user_update(2, |n, id| {
            (
                "UPDATE users SET display_name = $1, sort_key = $2, updated_at = now(), \
                 version = version + 1 WHERE id = $3",
                vec![
                    Value::from(format!("Writer {n}")),
                    Value::from(hex_key(n)),
                    Value::from(id),
                ],
            )
        })
        .await
    }

    async fn create(&self) -> anyhow::Result<Throughput> {
        let payload = ceiling::sample_payload(&self.db, "user_events").await?;
        self.measure(move |n| {
            let name = format!("raw-{n}");
            vec![
                (
                    "INSERT INTO users (name, user_type, display_name, canonical_name, \
                     sort_key, sort_key_collation, description, is_guest, presence_status, \
                     online, call_status, properties, created_at, updated_at, version, \
                     is_global_banned, flag_count, is_deleted, token_generation) \
                     VALUES ($1, 'PERSON', $2, $1, $3, 1, '', false, 'UNAVAILABLE', false, \
                     'AVAILABLE', '{}', now(), now(), 1, false, 0, false, 0)",
                    vec![
                        Value::from(name),
                        Value::from(format!("Raw User {n}")),
                        Value::from(hex_key(n)),
                    ],
                ),
                (
                    "INSERT INTO user_events (user_id, kind, payload, occurred_at) \
                     VALUES (lastval(), 1, $1, now())",
                    vec![Value::from(payload.clone())],
                ),
            ]
        })
        .await
    }

    async fn grant(&self) -> anyhow::Result<Throughput> {
        let payload = ceiling::sample_payload(&self.db, "role_events").await?;
        let id_of = self.id_of();
        self.measure(move |n| {
            let id = id_of(n);
            vec![
                (
                    "INSERT INTO role_grants (user_id, role_name, scope_kind, scope_id, \
                     granted_by, granted_at) VALUES ($1, 'channel-moderator', 'channel', $2, \
                     'admin', now())",
                    vec![Value::from(id), Value::from(format!("raw-{n}"))],
                ),
                (
                    "INSERT INTO role_events (kind, payload, occurred_at) VALUES ('ROLE_GRANTED', $1, now())",
                    vec![Value::from(payload.clone())],
                ),
            ]
        })
        .await
    }
}

/// The INSERT of a user event of `kind` about `id`.
fn user_event(id: i64, kind: i16, payload: &str) -> (&'static str, Vec<Value>) {
    (
        "INSERT INTO user_events (user_id, kind, payload, occurred_at) VALUES ($1, $2, $3, now())",
        vec![
            Value::from(id),
            Value::from(kind),
            Value::from(payload.to_owned()),
        ],
    )
}

/// A sort-key-like hex string, as long as a short name's key.
fn hex_key(n: u64) -> String {
    format!("{:016x}{:016x}{:016x}", measure::splitmix(n), n, !n)
}
