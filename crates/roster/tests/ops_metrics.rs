//! The admin port of a real `roster serve`: after a few calls, `/metrics`
//! shows the RED metrics (requests by method and code, a latency histogram),
//! cache lookups and the connection pools; `/readyz` answers 200 while serving.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_requests_latency_cache_and_pools_after_calls() {
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
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let _server = Server(child);
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
    let mut users = UserServiceClient::with_interceptor(channel, bearer);
    let jane = ok(users
        .create_user(pb::CreateUserRequest {
            name: "jane".into(),
            ..Default::default()
        })
        .await)
    .into_inner();
    let get = |id| pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(id)),
    };
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
    let metrics = ok(http.get(format!("http://{admin}/metrics")).send().await);
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);
    let text = ok(metrics.text().await);
    let samples = parse(&text);

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
    let _ = std::fs::remove_dir_all(&dir);
}
