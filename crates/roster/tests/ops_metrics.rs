//! The admin port of a real `roster serve`: after a few calls, `/metrics`
//! shows the RED metrics (requests by method and code, a latency histogram),
//! cache lookups and the connection pools; `/readyz` answers 200 while serving.
//! The cache lookups also show `users.cached_users` bounding the user cache.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use roster_kit::auth::BearerToken;
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tonic::{Code, transport::Channel};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The server process; killed when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> String {
    let port = ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port();
    format!("127.0.0.1:{port}")
}

/// One sample of the Prometheus text format: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(exposition: &str) -> Vec<Sample> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once("=\"")?;
                    Some((key.to_owned(), value.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some(Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of the sample `name` carrying (at least) `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
        })
        .map(|sample| sample.value)
}

/// A `roster serve` of every service on free ports, with `env` added, and an
/// admin's UserService client.
struct Running {
    _server: Server,
    dir: std::path::PathBuf,
    admin: String,
    users: UserServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(env: &[(&str, &str)]) -> Running {
    let dir = std::env::temp_dir().join(format!("roster-metrics-{}", uuid::Uuid::new_v4()));
    ok(std::fs::create_dir_all(&dir));
    let (address, admin) = (free_address(), free_address());
    let roster = env!("CARGO_BIN_EXE_roster");
    let mut child = ok(Command::new(roster)
        .arg("serve")
        .current_dir(&dir)
        .env("ROSTER_LISTEN", &address)
        .env("ROSTER_ADMIN_LISTEN", &admin)
        .env("ROSTER_GATEWAY__LISTEN", "127.0.0.1:0")
        .env("ROSTER_LOG__FILTER", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let server = Server(child);
    // `roster serve` says where the admin port is once it is bound.
    let mut lines = BufReader::new(stdout).lines();
    let announced = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("roster admin port on"));
    assert!(
        announced.is_some_and(|line| line.contains(&admin)),
        "roster serve did not announce its admin port"
    );

    let token = ok(Command::new(roster)
        .args(["token", "admin"])
        .current_dir(&dir)
        .output());
    let bearer = ok(BearerToken::new(
        String::from_utf8_lossy(&token.stdout).trim(),
    ));
    let channel = ok(ok(Channel::from_shared(format!("http://{address}")))
        .connect()
        .await);
    Running {
        _server: server,
        dir,
        admin,
        users: UserServiceClient::with_interceptor(channel, bearer),
    }
}

/// `/metrics` of the admin port at `admin`: its text and its samples.
async fn metrics(admin: &str) -> (String, Vec<Sample>) {
    let response = ok(reqwest::get(format!("http://{admin}/metrics")).await);
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let text = ok(response.text().await);
    let samples = parse(&text);
    (text, samples)
}

fn get(id: i64) -> pb::GetUserRequest {
    pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(id)),
    }
}

async fn create(running: &mut Running, name: &str) -> pb::User {
    ok(running
        .users
        .create_user(pb::CreateUserRequest {
            name: name.into(),
            ..Default::default()
        })
        .await)
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_requests_latency_cache_and_pools_after_calls() {
    let mut running = serve(&[]).await;
    let admin = running.admin.clone();
    let jane = create(&mut running, "jane").await;
    let users = &mut running.users;
    for _ in 0..2 {
        ok(users.get_user(get(jane.id)).await);
    }
    let missing = users.get_user(get(jane.id + 1000)).await.err();
    assert_eq!(missing.map(|s| s.code()), Some(Code::NotFound));

    let http = reqwest::Client::new();
    let ready = ok(http.get(format!("http://{admin}/readyz")).send().await);
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    let live = ok(http.get(format!("http://{admin}/livez")).send().await);
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    let (text, samples) = metrics(&admin).await;

    let requests = "roster_grpc_requests_total";
    let create = "/roster.v1.UserService/CreateUser";
    let get_user = "/roster.v1.UserService/GetUser";
    // Rate and errors: requests by method and status code.
    assert_eq!(
        value(&samples, requests, &[("method", create), ("code", "Ok")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, requests, &[("method", get_user), ("code", "Ok")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            requests,
            &[("method", get_user), ("code", "NotFound")]
        ),
        Some(1.0),
        "{text}"
    );
    // Duration: a histogram per method, its buckets cumulative up to the count.
    let latency = "roster_grpc_request_duration_seconds";
    assert_eq!(
        value(
            &samples,
            &format!("{latency}_count"),
            &[("method", get_user)]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            &format!("{latency}_bucket"),
            &[("method", get_user), ("le", "+Inf")]
        ),
        Some(3.0),
        "{text}"
    );
    assert!(
        value(
            &samples,
            &format!("{latency}_bucket"),
            &[("method", get_user), ("le", "10")]
        )
        .is_some(),
        "{text}"
    );
    // The user cache answered at least one of the reads.
    assert!(
        value(
            &samples,
            "roster_cache_lookups_total",
            &[("cache", "users"), ("result", "hit")]
        )
        .is_some_and(|hits| hits >= 1.0),
        "{text}"
    );
    // Every service's pool, sampled from its start (SQLite: 4 connections at most).
    for database in ["users", "roles", "files", "moderation"] {
        assert_eq!(
            value(
                &samples,
                "roster_db_pool_connections",
                &[("database", database), ("state", "max")]
            ),
            Some(4.0),
            "{database}: {text}"
        );
    }
}

/// Lookups of the user cache so far: (hits, misses).
async fn user_cache_lookups(admin: &str) -> (f64, f64) {
    let (_, samples) = metrics(admin).await;
    let count = |result| {
        value(
            &samples,
            "roster_cache_lookups_total",
            &[("cache", "users"), ("result", result)],
        )
        .unwrap_or(0.0)
    };
    (count("hit"), count("miss"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_cached_users_bounds_the_user_cache() {
    let mut running = serve(&[("ROSTER_USERS__CACHED_USERS", "1")]).await;
    let jane = create(&mut running, "jane").await;
    let john = create(&mut running, "john").await;
    let (hits, misses) = user_cache_lookups(&running.admin).await;
    // One user fits: john's creation pushed jane out, each read of the
    // other pushes the last one out, and only a repeated read hits. (With
    // the default, all four are hits.)
    for id in [jane.id, jane.id, john.id, jane.id] {
        ok(running.users.get_user(get(id)).await);
    }
    let (hits_after, misses_after) = user_cache_lookups(&running.admin).await;
    assert_eq!(
        (hits_after - hits, misses_after - misses),
        (1.0, 3.0),
        "(hits, misses) of jane, jane, john, jane with room for one user"
    );
}
