//! User service benchmark: GetUser, BatchGetUsers(100), QueryUsers(prefix)
//! against the empty-RPC and primary-key-select ceilings. Display names are
//! international (accents, Greek, Cyrillic, Han), and keywords are typed as a
//! person would: lower case, often without the accents.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use roster_kit::{auth::BearerToken, testing::TestDatabase};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    user_service_client::UserServiceClient,
};
use roster_users::{
    UserService,
    domain::{
        NewUser, UserKey, UserType,
        fields::{Description, DisplayName, UserName},
        ports::UserRecords,
        query::{Phase, UserFilter, UserQuery, UserSort},
    },
};
use sea_orm::{ConnectionTrait, DbBackend, Statement, sea_query::PostgresQueryBuilder};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Args,
    h2load::{self, H2Run},
    lean::{self, LeanCall},
    local,
    measure::{Rpc, both, splitmix},
    report::Row,
};

type Authed = InterceptedService<Channel, BearerToken>;

#[derive(Clone)]
struct Lane {
    users: UserServiceClient<Authed>,
    diagnostics: DiagnosticsServiceClient<Authed>,
}

/// Users in the hot set of the cached GetUser run, and what the per-replica
/// cache holds (`users.cached_users`): the hot set fits, while reads over all
/// users (10 times as many by default) mostly miss.
const HOT_USERS: usize = 10_000;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "sa", "to", "vi", "el", "an", "jo", "ma", "ri", "no", "be", "da",
    "lu", "ze", "qu", "fa", "hi", "or", "yu", "ce", "wi", "pa", "ge",
];
const GREEK: &[&str] = &["κα", "λο", "μι", "ρεν", "σα", "το", "βι", "ελ", "αν", "δα"];
const CYRILLIC: &[&str] = &["ка", "ло", "ми", "рен", "са", "то", "ви", "ел", "ан", "да"];
const HAN: &[&str] = &[
    "李", "王", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "小", "龙",
];
/// Letters written with an accent now and then, and how a person types them.
const ACCENTS: &[(char, char)] = &[
    ('a', 'á'),
    ('e', 'é'),
    ('o', 'ö'),
    ('u', 'ü'),
    ('i', 'í'),
    ('n', 'ñ'),
];

/// A display name like "Renmi Dalo", "sató kiel", "Καλο Μιτο", "Рен Сато" or
/// "李小龙": mostly Latin with accents here and there, some Greek, Cyrillic and
/// Han; varied case; a realistic spread of prefixes.
fn display_name(n: u64) -> String {
    let mut h = splitmix(n);
    let script = h % 10;
    h = splitmix(h);
    if script == 9 {
        let len = 2 + h % 2;
        return (0..len)
            .map(|k| HAN[(splitmix(h.wrapping_add(k)) % HAN.len() as u64) as usize])
            .collect();
    }
    let syllables = match script {
        7 => GREEK,
        8 => CYRILLIC,
        _ => SYLLABLES,
    };
    let mut word = |capital: bool| {
        let mut w = String::new();
        for _ in 0..(2 + h % 2) {
            w.push_str(syllables[(h % syllables.len() as u64) as usize]);
            h = splitmix(h);
        }
        if h.is_multiple_of(4) {
            w = w
                .chars()
                .map(|c| {
                    ACCENTS
                        .iter()
                        .find(|(plain, _)| *plain == c)
                        .map_or(c, |a| a.1)
                })
                .collect();
        }
        if capital {
            let mut chars = w.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_uppercase().chain(chars).collect()
            })
        } else {
            w
        }
    };
    let capital = !n.is_multiple_of(3);
    format!("{} {}", word(capital), word(capital))
}

/// What a person types to find a name: its first `len` letters in lower case,
/// every other time without accents.
fn typed_prefix(name: &str, len: usize, plain: bool) -> String {
    name.chars()
        .take(len)
        .flat_map(char::to_lowercase)
        .map(
            |c| match ACCENTS.iter().find(|(_, accented)| *accented == c) {
                Some((unaccented, _)) if plain => *unaccented,
                _ => c,
            },
        )
        .collect()
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let count = args.user_count();
    let database = TestDatabase::postgres().await;
    let suite = local::start(&database.url, |settings| {
        settings.users.cached_users = HOT_USERS;
    })
    .await?;
    let keys = suite.keys.clone();
    let address = suite.address.clone();
    let service = &suite.users;
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
        // Vacuumed as well as analysed, so autovacuum does not wake up in the
        // middle of a measurement to process the bulk load.
        .execute_unprepared("VACUUM (ANALYZE) users")
        .await?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    print_prefix_plan(service, "ka").await?;

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
    let prefix_of = move |n: u64, len: usize| {
        typed_prefix(
            &display_name(splitmix(n) % count as u64),
            len,
            n.is_multiple_of(2),
        )
    };

    let shape = args.shape();
    let lean = |what: &str, call: LeanCall| {
        eprintln!("measuring {what} (lean client) …");
        lean::measure(&address, call, shape)
    };
    const PING: &str = "/roster.v1.DiagnosticsService/Ping";
    const GET_USER: &str = "/roster.v1.UserService/GetUser";
    let ping = lean(
        "the empty RPC",
        LeanCall::new(PING, &admin, |_| pb::PingRequest {}),
    )
    .await?;
    let by_id = |id: i64| pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(id)),
    };
    let uncached = lean(
        "GetUser over all users (mostly cache misses)",
        LeanCall::new(GET_USER, &admin, move |n| by_id(id_of(n))),
    )
    .await?;

    // A hot set that fits the per-replica user cache, read once to warm it.
    let hot = count.min(HOT_USERS) as u64;
    let hot_id_of = move |n: u64| 1 + (splitmix(n) % hot) as i64;
    let hot_ids: Vec<i64> = (1..=hot as i64).collect();
    for chunk in hot_ids.chunks(1000) {
        store.find_by_ids(chunk).await?;
    }
    let cached = lean(
        &format!("GetUser over a cached hot set of {hot} users"),
        LeanCall::new(GET_USER, &admin, move |n| by_id(hot_id_of(n))),
    )
    .await?;
    let batch = lean(
        "BatchGetUsers(100)",
        LeanCall::new("/roster.v1.UserService/BatchGetUsers", &admin, move |n| {
            pb::BatchGetUsersRequest {
                ids: (0..100).map(|k| hot_id_of(n * 100 + k)).collect(),
                names: vec![],
            }
        }),
    )
    .await?;

    // The same hot set by name, each name read once in-process to fill the
    // name cache (what a GetUser by name would do).
    futures::stream::iter(0..hot)
        .map(|k| {
            let store = store.clone();
            async move { store.find(&UserKey::Name(format!("user{k}"))).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let by_name = lean(
        "GetUser by name over the same cached hot set",
        LeanCall::new(GET_USER, &admin, move |n| pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Name(format!(
                "user{}",
                hot_id_of(n) - 1
            ))),
        }),
    )
    .await?;

    let mut query_runs = Vec::new();
    for len in [2usize, 1] {
        let run = lean(
            &format!("QueryUsers(prefix of {len})"),
            LeanCall::new("/roster.v1.UserService/QueryUsers", &admin, move |n| {
                pb::QueryUsersRequest {
                    keyword: prefix_of(n, len),
                    page_size: 20,
                    ..Default::default()
                }
            }),
        )
        .await?;
        eprintln!("measuring the same search SQL through the pool (ceiling) …");
        let search_store = store.clone();
        let raw = both(
            Rpc {
                lanes: lanes.clone(),
                f: move |_lane: Lane, n| {
                    let store = search_store.clone();
                    async move { raw_search(&store, prefix_of(n, len)).await }
                },
            },
            shape,
        )
        .await?;
        query_runs.push((len, run, raw));
    }

    eprintln!("measuring the primary-key select through the same pool (ceiling) …");
    let connection = store.connection().clone();
    let (db_latency, db_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |_lane: Lane, n| {
                let connection = connection.clone();
                async move {
                    connection
                        .query_one_raw(Statement::from_sql_and_values(
                            DbBackend::Postgres,
                            "SELECT * FROM users WHERE id = $1",
                            [id_of(n).into()],
                        ))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            },
        },
        shape,
    )
    .await?;

    let h2 = h2load_runs(args, &address, &admin, &lanes[0]).await?;

    let empty = "empty RPC";
    let mut rows = Vec::new();
    rows.extend(ping.rows("Ping (empty RPC)", empty, &ping));
    rows.push(Row::latency(
        "PK select (same pool)",
        &db_latency,
        empty,
        &ping.latency,
    ));
    rows.push(Row::throughput(
        "PK select (same pool)",
        &db_run,
        empty,
        &ping.throughput,
    ));
    let what = "GetUser (any user, mostly uncached)";
    rows.extend(uncached.rows(what, empty, &ping));
    rows.push(
        Row::throughput(what, &uncached.throughput, "PK select", &db_run).with_note(format!(
            "{}; the cache holds {} of {count} users",
            uncached.note(),
            count.min(HOT_USERS)
        )),
    );
    rows.extend(cached.rows("GetUser (cached hot set)", empty, &ping));
    rows.extend(by_name.rows("GetUser by name (cached hot set)", empty, &ping));
    rows.extend(batch.rows("BatchGetUsers(100) (cached hot set)", empty, &ping));
    for (len, run, (raw_latency, raw_run)) in &query_runs {
        let what = format!("QueryUsers(prefix {len} char)");
        let sql = format!("search SQL (prefix {len} char, same pool)");
        rows.extend(run.rows(&what, empty, &ping));
        rows.push(Row::latency(&sql, raw_latency, empty, &ping.latency));
        rows.push(Row::throughput(&sql, raw_run, empty, &ping.throughput));
        rows.push(
            Row::throughput(&what, &run.throughput, "search SQL", raw_run).with_note(run.note()),
        );
    }
    if let Some((ping, by_id, by_name)) = &h2 {
        rows.push(ping.row("Ping (empty RPC)", empty, ping));
        rows.push(by_id.row("GetUser (one cached user)", empty, ping));
        rows.push(by_name.row("GetUser by name (one cached user)", empty, ping));
    }
    println!(
        "\n{count} users in PostgreSQL; {} in flight over {} connections for {} s; {} unloaded requests",
        args.in_flight, args.connections, args.seconds, args.unloaded
    );
    drop(database);
    Ok(rows)
}

/// The empty RPC and GetUser of one cached user (by id, by name) driven by
/// h2load, each request checked once through tonic first; None (and a note)
/// without h2load.
async fn h2load_runs(
    args: &Args,
    address: &str,
    token: &str,
    lane: &Lane,
) -> anyhow::Result<Option<(H2Run, H2Run, H2Run)>> {
    if !h2load::available() {
        eprintln!("h2load is not installed (Debian: nghttp2-client): its rows are skipped");
        return Ok(None);
    }
    let by_id = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(1)),
    };
    let by_name = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Name("user0".into())),
    };
    let mut lane = lane.clone();
    lane.diagnostics.ping(pb::PingRequest {}).await?;
    lane.users.get_user(by_id.clone()).await?;
    lane.users.get_user(by_name.clone()).await?;
    let mut runs = Vec::new();
    for (what, path, frame) in [
        (
            "Ping",
            "/roster.v1.DiagnosticsService/Ping",
            h2load::frame(&pb::PingRequest {}),
        ),
        (
            "GetUser by id",
            "/roster.v1.UserService/GetUser",
            h2load::frame(&by_id),
        ),
        (
            "GetUser by name",
            "/roster.v1.UserService/GetUser",
            h2load::frame(&by_name),
        ),
    ] {
        eprintln!("measuring {what} with h2load …");
        let (address, token, shape) = (address.to_owned(), token.to_owned(), args.shape());
        // Off the runtime's threads: the server shares them.
        let run =
            tokio::task::spawn_blocking(move || h2load::run(&address, path, &token, &frame, shape))
                .await??;
        runs.push(run);
    }
    let mut runs = runs.into_iter();
    Ok(match (runs.next(), runs.next(), runs.next()) {
        (Some(ping), Some(id), Some(name)) => Some((ping, id, name)),
        _ => None,
    })
}

/// What QueryUsers runs for `keyword` (its first page of 20), the same way
/// through the same pool: each phase's SQL in turn until the page is full.
async fn raw_search(store: &roster_users::UserStore, keyword: String) -> Result<(), String> {
    let query = UserQuery {
        keyword: Some(keyword),
        sort: UserSort::DisplayName,
        filter: UserFilter::default(),
        limit: 20,
        after: None,
    };
    let wanted = query.limit + 1;
    let mut found = 0u64;
    for &phase in query.phases() {
        let Some(select) = store.query_statement(&query, phase, None, wanted - found) else {
            continue;
        };
        found += roster_kit::db::query_planned_per_run(store.connection(), &select)
            .await
            .map_err(|e| e.to_string())?
            .len() as u64;
        if found >= wanted {
            break;
        }
    }
    Ok(())
}

async fn print_prefix_plan(service: &UserService, keyword: &str) -> anyhow::Result<()> {
    let query = UserQuery {
        keyword: Some(keyword.to_owned()),
        sort: UserSort::DisplayName,
        filter: UserFilter::default(),
        limit: 21,
        after: None,
    };
    let connection = service.store.connection();
    for (phase, name) in [(Phase::Exact, "exact"), (Phase::Prefix, "prefix")] {
        let statement = service
            .store
            .query_statement(&query, phase, None, 21)
            .ok_or_else(|| anyhow::anyhow!("keyword {keyword:?} matches nothing"))?;
        // With the values in the text, as the search sends it.
        let explain = Statement::from_string(
            connection.get_database_backend(),
            format!(
                "EXPLAIN (ANALYZE, BUFFERS) {}",
                statement.to_string(PostgresQueryBuilder)
            ),
        );
        println!("\nplan of QueryUsers(keyword {keyword:?}), {name} phase:");
        for row in connection.query_all_raw(explain).await? {
            println!("  {}", row.try_get::<String>("", "QUERY PLAN")?);
        }
    }
    Ok(())
}
