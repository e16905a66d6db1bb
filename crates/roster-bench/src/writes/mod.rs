//! The write paths on PostgreSQL, each beside its raw-SQL ceiling: the same
//! change written the obvious way, the row statement and the INSERT of its
//! event in one transaction, 16 clients on one pool ([`ceiling`]).
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
use sea_orm::Value;
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

    eprintln!("measuring the raw-SQL ceilings …");
    let ceilings = Ceilings::measure(&database.url, &ids, args.seconds).await?;

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
            &ceilings.presence,
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
            &ceilings.update,
        ),
        ("CreateUser", &create, "INSERT users", &ceilings.create),
        (
            "GrantRole (channel scope)",
            &grant,
            "INSERT role_grants",
            &ceilings.grant,
        ),
    ] {
        rows.push(Row::latency(what, &run.latency, what, &run.latency).with_note(run.note()));
        rows.push(lean_row(what, run, &name(sql), ceiling).with_note(run.note()));
    }
    for (sql, ceiling) in [
        ("UPDATE users (presence)", &ceilings.presence),
        ("UPDATE users (name, sort key, version)", &ceilings.update),
        ("INSERT users", &ceilings.create),
        ("INSERT role_grants", &ceilings.grant),
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

/// The raw-SQL ceilings of the four write paths, measured one after the other.
struct Ceilings {
    presence: Throughput,
    update: Throughput,
    create: Throughput,
    grant: Throughput,
}

impl Ceilings {
    async fn measure(url: &str, ids: &[i64], seconds: u64) -> anyhow::Result<Self> {
        let db = ceiling::pool(url).await?;
        ceiling::without_outbox_triggers(&db).await?;
        let measured = Self::measure_plain(&db, ids, seconds).await;
        ceiling::restore_outbox_triggers(&db).await?;
        measured
    }

    async fn measure_plain(
        db: &std::sync::Arc<sea_orm::DatabaseConnection>,
        ids: &[i64],
        seconds: u64,
    ) -> anyhow::Result<Self> {
        let user_payload = ceiling::sample_payload(&db, "user_events").await?;
        let role_payload = ceiling::sample_payload(&db, "role_events").await?;
        let ids: std::sync::Arc<[i64]> = ids.into();
        let id_of = {
            let ids = ids.clone();
            move |n: u64| ids[(measure::splitmix(n) % ids.len() as u64) as usize]
        };
        let event = move |id: i64, kind: i16, payload: &str| {
            (
                "INSERT INTO user_events (user_id, kind, payload, occurred_at) VALUES ($1, $2, $3, now())",
                vec![
                    Value::from(id),
                    Value::from(kind),
                    Value::from(payload.to_owned()),
                ],
            )
        };
        let presence = {
            let payload = user_payload.clone();
            let id_of = id_of.clone();
            ceiling::measure(db.clone(), seconds, move |n| {
                let id = id_of(n);
                vec![
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
                    ),
                    event(id, 3, &payload),
                ]
            })
            .await
        };
        let update = {
            let payload = user_payload.clone();
            let id_of = id_of.clone();
            ceiling::measure(db.clone(), seconds, move |n| {
                let id = id_of(n);
                vec![
                    (
                        "UPDATE users SET display_name = $1, sort_key = $2, updated_at = now(), \
                         version = version + 1 WHERE id = $3",
                        vec![
                            Value::from(format!("Writer {n}")),
                            Value::from(hex_key(n)),
                            Value::from(id),
                        ],
                    ),
                    event(id, 2, &payload),
                ]
            })
            .await
        };
        let create = {
            let payload = user_payload.clone();
            ceiling::measure(db.clone(), seconds, move |n| {
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
        };
        let grant = {
            ceiling::measure(db.clone(), seconds, move |n| {
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
                        vec![Value::from(role_payload.clone())],
                    ),
                ]
            })
            .await
        };
        Ok(Self {
            presence,
            update,
            create,
            grant,
        })
    }
}

/// A sort-key-like hex string, as long as a short name's key.
fn hex_key(n: u64) -> String {
    format!("{:016x}{:016x}{:016x}", measure::splitmix(n), n, !n)
}
