//! Gateway benchmark: `GET /v1/users/{id}` through the HTTP gateway beside
//! `GetUser` over gRPC on the same suite, in the same run, so the ratio is the
//! gateway's cost; and `GET /healthz` as the HTTP stack's own ceiling.
//!
//! The HTTP load comes from hyper's client, driven by the same loops as every
//! gRPC row: one request in flight for latency, `--in-flight` for throughput.
//! Throughput is measured in the project's shape (many requests over a few
//! HTTP/2 connections, as the gRPC row runs), and over HTTP/1.1 with keep-alive
//! (one request per connection at a time, as many REST clients call).

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use roster::{DEFAULT_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::Secret,
    testing::{TestDatabase, local_listener},
};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Args, local,
    measure::{Rpc, both, splitmix},
    report::Row,
};

/// Users read by the benchmark: a set every cache holds, so both paths measure
/// the transport rather than the database.
const USERS: u64 = 2_000;

type Http = Client<HttpConnector, Empty<Bytes>>;

#[derive(Clone)]
struct HttpLane {
    client: Http,
    base: String,
    bearer: String,
}

impl HttpLane {
    async fn get(&self, path: &str) -> Result<(), String> {
        let request = http::Request::get(format!("{}{path}", self.base))
            .header(http::header::AUTHORIZATION, &self.bearer)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        // The whole answer is read, as a client would.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{path}: {status}"))
        }
    }
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    let data_dir = local::TempDir::new()?;
    let mut settings = RosterSettings::default();
    settings.common.data_dir = data_dir.0.clone();
    for url in [
        &mut settings.users.database_url,
        &mut settings.roles.database_url,
        &mut settings.files.database_url,
    ] {
        *url = Some(Secret::new(&database.url));
    }
    settings.gateway.listen = "127.0.0.1:0".into();
    let keys = std::sync::Arc::new(TokenKeys::generate(&settings.common.auth.issuer));
    let (listener, grpc) = local_listener().await;
    let suite = Suite::start(&settings, DEFAULT_SERVICES, keys.clone(), &listener).await?;
    let http = suite
        .gateway_address()
        .context("the suite runs the gateway")?;
    tokio::spawn(async move {
        let _ = suite.serve(listener, std::future::pending()).await;
    });

    let admin = keys.issue_admin("bench", local::TOKEN_TTL)?.token;
    let bearer = BearerToken::new(&admin)?;
    let mut grpc_lanes: Vec<UserServiceClient<InterceptedService<Channel, BearerToken>>> =
        Vec::new();
    for _ in 0..args.connections {
        let channel = Channel::from_shared(grpc.clone())?.connect().await?;
        grpc_lanes.push(UserServiceClient::with_interceptor(channel, bearer.clone()));
    }
    eprintln!("creating {USERS} users …");
    let creator = grpc_lanes[0].clone();
    futures::stream::iter(1..=USERS)
        .map(|n| {
            let mut client = creator.clone();
            async move {
                client
                    .create_user(pb::CreateUserRequest {
                        name: format!("user{n}"),
                        ..Default::default()
                    })
                    .await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;

    let lane = |client: Http| HttpLane {
        client,
        base: format!("http://{http}"),
        bearer: format!("Bearer {admin}"),
    };
    let http1 = lane(
        Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(args.in_flight.max(1))
            .pool_idle_timeout(Duration::from_secs(60))
            .build_http(),
    );
    // One client per connection: each keeps one multiplexed HTTP/2 connection.
    let http2: Vec<HttpLane> = (0..args.connections)
        .map(|_| {
            lane(
                Client::builder(TokioExecutor::new())
                    .http2_only(true)
                    .build_http(),
            )
        })
        .collect();
    // One answer checked before any figure is trusted.
    http1.get("/v1/users/1").await.map_err(anyhow::Error::msg)?;
    http2[0]
        .get("/v1/users/1")
        .await
        .map_err(anyhow::Error::msg)?;
    let id_of = |n: u64| 1 + splitmix(n) % USERS;

    eprintln!("measuring GetUser over gRPC …");
    let (grpc_latency, grpc_run) = both(
        Rpc {
            lanes: grpc_lanes,
            f: move |mut lane: UserServiceClient<_>, n| async move {
                lane.get_user(pb::GetUserRequest {
                    user: Some(pb::get_user_request::User::Id(id_of(n) as i64)),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.to_string())
            },
        },
        args.shape(),
    )
    .await?;
    eprintln!("measuring GET /healthz through the gateway (HTTP ceiling) …");
    let (health_latency, health_run) = both(
        Rpc {
            lanes: http2.clone(),
            f: |lane: HttpLane, _n| async move { lane.get("/healthz").await },
        },
        args.shape(),
    )
    .await?;
    let get_user =
        move |lane: HttpLane, n| async move { lane.get(&format!("/v1/users/{}", id_of(n))).await };
    eprintln!("measuring GET /v1/users/{{id}} through the gateway (HTTP/2) …");
    let (http_latency, http_run) = both(
        Rpc {
            lanes: http2,
            f: get_user,
        },
        args.shape(),
    )
    .await?;
    eprintln!("measuring GET /v1/users/{{id}} through the gateway (HTTP/1.1) …");
    let (http1_latency, http1_run) = both(
        Rpc {
            lanes: vec![http1],
            f: get_user,
        },
        args.shape(),
    )
    .await?;

    let grpc_name = "GetUser (gRPC)";
    let note = format!(
        "{USERS} users, cached; {} HTTP/2 connections",
        args.connections
    );
    let note1 = format!(
        "{USERS} users, cached; HTTP/1.1 keep-alive, up to {} connections",
        args.in_flight
    );
    let users = "GET /v1/users/{id} (gateway, HTTP/2)";
    let users1 = "GET /v1/users/{id} (gateway, HTTP/1.1)";
    let health = "GET /healthz (HTTP/2 ceiling)";
    let rows = vec![
        Row::latency(grpc_name, &grpc_latency, grpc_name, &grpc_latency),
        Row::throughput(grpc_name, &grpc_run, grpc_name, &grpc_run),
        Row::latency(health, &health_latency, grpc_name, &grpc_latency),
        Row::throughput(health, &health_run, grpc_name, &grpc_run),
        Row::latency(users, &http_latency, grpc_name, &grpc_latency).with_note(note.clone()),
        Row::throughput(users, &http_run, grpc_name, &grpc_run).with_note(note),
        Row::latency(users1, &http1_latency, grpc_name, &grpc_latency).with_note(note1.clone()),
        Row::throughput(users1, &http1_run, grpc_name, &grpc_run).with_note(note1),
    ];
    println!(
        "\nGateway vs gRPC: {:.2}× GetUser's throughput over HTTP/2, {:.2}× over HTTP/1.1 (target ≥ 0.7×); {} in flight for {} s",
        http_run.rps / grpc_run.rps,
        http1_run.rps / grpc_run.rps,
        args.in_flight,
        args.seconds
    );
    drop(database);
    Ok(rows)
}
