//! User service benchmark: GetUser, BatchGetUsers(100), QueryUsers(prefix)
//! against the empty-RPC and primary-key-select ceilings.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::{CommonSettings, Secret},
    server::ServerBuilder,
    testing::{TestDatabase, local_listener},
};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    user_service_client::UserServiceClient,
};
use roster_users::{
    UserService, UsersSettings,
    domain::{
        NewUser, UserKey, UserType,
        fields::{Description, DisplayName, UserName},
        query::{Phase, UserFilter, UserQuery, UserSort},
    },
};
use sea_orm::{ConnectionTrait, Statement};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Args,
    measure::{self, Call, Latency, Throughput},
    report::Row,
};

type Authed = InterceptedService<Channel, BearerToken>;

#[derive(Clone)]
struct Lane {
    users: UserServiceClient<Authed>,
    diagnostics: DiagnosticsServiceClient<Authed>,
}

/// A benchmarked call: `f(lane, n)` with `n` varying the input.
struct Rpc<F> {
    lanes: Vec<Lane>,
    f: F,
}

impl<F, Fut> Call for Rpc<F>
where
    F: Fn(Lane, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    fn call(&self, lane: usize, n: u64) -> impl Future<Output = Result<(), String>> + Send {
        (self.f)(self.lanes[lane % self.lanes.len()].clone(), n)
    }
}

/// Deterministic scatter of request numbers over the loaded ids.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "sa", "to", "vi", "el", "an", "jo", "ma", "ri", "no", "be", "da",
    "lu", "ze", "qu", "fa", "hi", "or", "yu", "ce", "wi", "pa", "ge",
];

/// A display name like "Renmi Dalo" or "sato kiel": varied case, realistic spread of prefixes.
fn display_name(n: u64) -> String {
    let mut h = splitmix(n);
    let mut word = |capital: bool| {
        let mut w = String::new();
        for _ in 0..(2 + h % 2) {
            w.push_str(SYLLABLES[(h % SYLLABLES.len() as u64) as usize]);
            h = splitmix(h);
        }
        if capital {
            w[..1].to_uppercase() + &w[1..]
        } else {
            w
        }
    };
    let capital = n % 3 != 0;
    format!("{} {}", word(capital), word(capital))
}

fn row_latency(what: &str, latency: &Latency, ceiling: &str, ceiling_latency: &Latency) -> Row {
    Row {
        what: what.to_owned(),
        shape: "unloaded",
        figure: latency.p99_ms,
        unit: "ms",
        p50_ms: latency.p50_ms,
        p99_ms: latency.p99_ms,
        max_ms: Some(latency.max_ms),
        errors: 0,
        ceiling: format!("{ceiling} p99"),
        ceiling_figure: ceiling_latency.p99_ms,
        ratio: latency.p99_ms / ceiling_latency.p99_ms,
    }
}

fn row_throughput(what: &str, run: &Throughput, ceiling: &str, ceiling_run: &Throughput) -> Row {
    Row {
        what: what.to_owned(),
        shape: "throughput",
        figure: run.rps,
        unit: "rps",
        p50_ms: run.p50_ms,
        p99_ms: run.p99_ms,
        max_ms: None,
        errors: run.errors,
        ceiling: format!("{ceiling} rps"),
        ceiling_figure: ceiling_run.rps,
        ratio: run.rps / ceiling_run.rps,
    }
}

async fn both<C: Call>(call: C, args: &Args) -> (Latency, Throughput) {
    let shape = args.shape();
    // Warm connections, caches and the pool before measuring.
    let _ = measure::unloaded(&call, 200).await;
    let latency = measure::unloaded(&call, shape.unloaded_requests).await;
    let call = Arc::new(call);
    let throughput = measure::throughput(call, shape).await;
    (latency, throughput)
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let count = args.user_count();
    let database = TestDatabase::postgres().await;
    let common = CommonSettings::default();
    let settings = UsersSettings {
        database_url: Some(Secret::new(database.url.clone())),
        ..UsersSettings::default()
    };
    let keys = Arc::new(TokenKeys::new(
        &rand::random::<[u8; 32]>(),
        &common.auth.issuer,
    )?);
    let service = UserService::start(&settings, &common, keys.clone()).await?;
    let store = service.store.clone();

    eprintln!("loading {count} users into PostgreSQL …");
    let started = Instant::now();
    let now = Utc::now();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..count as u64 {
        batch.push(NewUser {
            name: UserName::parse(&format!("user{n}"), "name")
                .map_err(|v| anyhow::anyhow!("{v:?}"))?,
            user_type: UserType::Person,
            display_name: DisplayName::parse(&display_name(n), "display_name")
                .map_err(|v| anyhow::anyhow!("{v:?}"))?,
            description: Description::default(),
            is_guest: false,
            properties: Default::default(),
        });
        if batch.len() == 1000 {
            store.import(&batch, now).await?;
            batch.clear();
        }
    }
    store.import(&batch, now).await?;
    store
        .connection()
        .execute_unprepared("ANALYZE users")
        .await?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    print_prefix_plan(&service, "ka").await?;

    let mut server = ServerBuilder::new(keys.clone(), Duration::from_secs(30));
    service.register(&mut server);
    let (listener, address) = local_listener().await;
    tokio::spawn(async move {
        let _ = server.serve(listener, std::future::pending()).await;
    });

    let admin = keys.issue_admin("bench", Duration::from_secs(3600))?.token;
    let bearer = BearerToken::new(&admin)?;
    let mut lanes = Vec::new();
    for _ in 0..args.connections {
        let channel = Channel::from_shared(address.clone())?.connect().await?;
        lanes.push(Lane {
            users: UserServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            diagnostics: DiagnosticsServiceClient::with_interceptor(channel, bearer.clone()),
        });
    }
    let id_of = move |n: u64| 1 + (splitmix(n) % count as u64) as i64;
    let prefix_of =
        move |n: u64, len: usize| display_name(splitmix(n) % count as u64)[..len].to_lowercase();

    eprintln!("measuring the empty RPC (ceiling) …");
    let (ping_latency, ping_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: |mut lane: Lane, _n| async move {
                lane.diagnostics
                    .ping(pb::PingRequest {})
                    .await
                    .map(|_| ())
                    .map_err(|s| s.to_string())
            },
        },
        args,
    )
    .await;

    eprintln!("measuring GetUser …");
    let (get_latency, get_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |mut lane: Lane, n| async move {
                lane.users
                    .get_user(pb::GetUserRequest {
                        user: Some(pb::get_user_request::User::Id(id_of(n))),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|s| s.to_string())
            },
        },
        args,
    )
    .await;

    eprintln!("measuring BatchGetUsers(100) …");
    let (batch_latency, batch_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |mut lane: Lane, n| async move {
                let ids = (0..100).map(|k| id_of(n * 100 + k)).collect();
                lane.users
                    .batch_get_users(pb::BatchGetUsersRequest { ids, names: vec![] })
                    .await
                    .map(|_| ())
                    .map_err(|s| s.to_string())
            },
        },
        args,
    )
    .await;

    let mut query_runs = Vec::new();
    for len in [2usize, 1] {
        eprintln!("measuring QueryUsers(prefix of {len}) …");
        let run = both(
            Rpc {
                lanes: lanes.clone(),
                f: move |mut lane: Lane, n| async move {
                    lane.users
                        .query_users(pb::QueryUsersRequest {
                            keyword: prefix_of(n, len),
                            page_size: 20,
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                        .map_err(|s| s.to_string())
                },
            },
            args,
        )
        .await;
        query_runs.push((len, run));
    }

    eprintln!("measuring the primary-key select through the same pool (ceiling) …");
    let db_store = store.clone();
    let (db_latency, db_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |_lane: Lane, n| {
                let store = db_store.clone();
                async move {
                    store
                        .find(&UserKey::Id(id_of(n)))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            },
        },
        args,
    )
    .await;

    let empty = "empty RPC";
    let mut rows = vec![
        row_latency("Ping (empty RPC)", &ping_latency, empty, &ping_latency),
        row_throughput("Ping (empty RPC)", &ping_run, empty, &ping_run),
        row_latency("PK select (same pool)", &db_latency, empty, &ping_latency),
        row_throughput("PK select (same pool)", &db_run, empty, &ping_run),
        row_latency("GetUser", &get_latency, empty, &ping_latency),
        row_throughput("GetUser", &get_run, empty, &ping_run),
        row_latency("BatchGetUsers(100)", &batch_latency, empty, &ping_latency),
        row_throughput("BatchGetUsers(100)", &batch_run, empty, &ping_run),
    ];
    for (len, (latency, run)) in &query_runs {
        let what = format!("QueryUsers(prefix {len} char)");
        rows.push(row_latency(&what, latency, empty, &ping_latency));
        rows.push(row_throughput(&what, run, empty, &ping_run));
    }
    println!(
        "\n{count} users in PostgreSQL; {} in flight over {} connections for {} s; {} unloaded requests",
        args.in_flight, args.connections, args.seconds, args.unloaded
    );
    drop(database);
    Ok(rows)
}

async fn print_prefix_plan(service: &UserService, keyword: &str) -> anyhow::Result<()> {
    let query = UserQuery {
        keyword: Some(keyword.to_owned()),
        sort: UserSort::DisplayName,
        filter: UserFilter::default(),
        limit: 21,
        after: None,
    };
    let statement = service
        .store
        .query_statement(&query, Phase::Prefix, None, 21);
    let connection = service.store.connection();
    let explain = Statement::from_sql_and_values(
        connection.get_database_backend(),
        format!("EXPLAIN (ANALYZE, BUFFERS) {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    println!("\nplan of QueryUsers(keyword {keyword:?}), prefix phase:");
    for row in connection.query_all_raw(explain).await? {
        println!("  {}", row.try_get::<String>("", "QUERY PLAN")?);
    }
    Ok(())
}
