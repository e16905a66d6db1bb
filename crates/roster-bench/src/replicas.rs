//! Propagation between replicas: two suites on one PostgreSQL database, a
//! user renamed through the first, and the time until the change arrives on a
//! `WatchUserEvents` stream of the second. The ceiling is the same rename
//! arriving on a stream of the first replica (woken in-process at commit).
//! Both replicas poll only hourly, so the second learns of the change from the
//! outbox notification alone.

use std::time::{Duration, Instant};

use roster_kit::{auth::BearerToken, testing::TestDatabase};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tonic::{Streaming, service::interceptor::InterceptedService, transport::Channel};

use crate::{Args, local, measure::of_samples as latency, report::Row};

type Client = UserServiceClient<InterceptedService<Channel, BearerToken>>;

/// Renames through `writer`, then waits for the rename on both streams;
/// returns when each saw it, from the start of the call.
async fn rename_and_watch(
    writer: &Client,
    user_id: i64,
    n: u64,
    same: &mut Streaming<pb::UserEvent>,
    other: &mut Streaming<pb::UserEvent>,
) -> anyhow::Result<(Duration, Duration)> {
    let name = format!("Renamed {n}");
    let started = Instant::now();
    writer
        .clone()
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(user_id)),
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
            patch: Some(pb::UserPatch {
                display_name: name.clone(),
                ..Default::default()
            }),
            expected_version: 0,
        })
        .await?;
    tokio::try_join!(seen(same, &name, started), seen(other, &name, started))
}

/// How long after `started` the stream delivered the rename to `name`.
async fn seen(
    stream: &mut Streaming<pb::UserEvent>,
    name: &str,
    started: Instant,
) -> anyhow::Result<Duration> {
    loop {
        let event = stream
            .message()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the event stream ended"))?;
        if event.user.is_some_and(|u| u.display_name == name) {
            return Ok(started.elapsed());
        }
    }
}

async fn client(address: &str, token: &str) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(address.to_owned())?.connect().await?;
    Ok(UserServiceClient::with_interceptor(
        channel,
        BearerToken::new(token)?,
    ))
}

async fn watch_from_now(client: &Client) -> anyhow::Result<Streaming<pb::UserEvent>> {
    Ok(client
        .clone()
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await?
        .into_inner())
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    let hourly = |settings: &mut roster::RosterSettings| {
        settings.common.event_poll_interval_ms = 3_600_000;
        settings.moderation.database_url = settings.users.database_url.clone();
    };
    let first = local::start(&database.url, hourly).await?;
    let second = local::start_with_keys(&database.url, Some(first.keys.clone()), hourly).await?;
    let admin = first
        .keys
        .issue_admin("bench", Duration::from_secs(3600))?
        .token;
    let writer = client(&first.address, &admin).await?;
    let jane = writer
        .clone()
        .create_user(pb::CreateUserRequest {
            name: "jane".into(),
            display_name: "Jane".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let requests = args.unloaded.clamp(1, 2000);
    let mut same = watch_from_now(&client(&first.address, &admin).await?).await?;
    let mut other = watch_from_now(&client(&second.address, &admin).await?).await?;
    eprintln!("measuring changes reaching both replicas …");
    let (mut on_same, mut on_other, mut lag) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..(100 + requests) as u64 {
        let (at_same, at_other) =
            rename_and_watch(&writer, jane.id, n, &mut same, &mut other).await?;
        // The first hundred warm up connections, pools and caches.
        if n >= 100 {
            on_same.push(at_same);
            on_other.push(at_other);
            lag.push(at_other.saturating_sub(at_same));
        }
    }
    let (on_same, on_other, lag) = (latency(on_same), latency(on_other), latency(lag));
    Ok(vec![
        Row::latency(
            "UpdateUser until seen on the other replica",
            &on_other,
            "until seen on the same replica",
            &on_same,
        )
        .with_note("two suites, one PostgreSQL, polls hourly: pg_notify only"),
        Row::latency(
            "propagation: other replica's stream after the same's",
            &lag,
            "UpdateUser until seen on the same replica",
            &on_same,
        )
        .with_note("the delay a notification adds"),
    ])
}
