//! `roster relay nats` against a real nats-server with JetStream: every event
//! of every service arrives in order with its subject and headers; a relay
//! killed with SIGKILL mid-stream and restarted loses nothing and publishes
//! nothing twice; a NATS outage is reported and caught up. Each test starts
//! its own nats-server, `roster serve` (SQLite in a scratch directory) and
//! the relay as child processes, and compares what JetStream holds with the
//! services' own watch streams, cursor by cursor.

mod process;

use std::fmt::Debug;

use async_nats::{HeaderMap, jetstream};
use futures::StreamExt;
use process::{DEADLINE, Process, Scratch, ok};
use prost::{Message, bytes::Bytes};
use roster_kit::auth::BearerToken;
use roster_proto::v1::{
    self as pb, moderation_service_client::ModerationServiceClient,
    role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

const STREAM: &str = "ROSTER_TEST";

type Authed = InterceptedService<Channel, BearerToken>;

/// Admin clients of the services `roster serve` runs.
struct Clients {
    users: UserServiceClient<Authed>,
    roles: RoleServiceClient<Authed>,
    moderation: ModerationServiceClient<Authed>,
}

impl Clients {
    async fn connect(scratch: &Scratch) -> Self {
        let endpoint = ok(Channel::from_shared(format!("http://{}", scratch.grpc)));
        let channel = ok(endpoint.connect().await);
        let token = ok(BearerToken::new(&scratch.admin_token()));
        Self {
            users: UserServiceClient::with_interceptor(channel.clone(), token.clone()),
            roles: RoleServiceClient::with_interceptor(channel.clone(), token.clone()),
            moderation: ModerationServiceClient::with_interceptor(channel, token),
        }
    }

    /// Changes in every service: `n` users, then a marker user `<tag>-end`
    /// granted a role and banned (its events end the round in each stream).
    async fn round(&mut self, tag: &str, n: usize) -> i64 {
        for i in 0..n {
            self.create(&format!("{tag}-{i}")).await;
        }
        let marker = self.create(&format!("{tag}-end")).await;
        ok(self
            .roles
            .grant_role(pb::GrantRoleRequest {
                user_id: marker,
                role: "channel-moderator".into(),
                scope: Some(pb::Scope {
                    scope: Some(pb::scope::Scope::ChannelId(format!("{tag}-room"))),
                }),
                expires_at: None,
            })
            .await);
        ok(self
            .moderation
            .ban_user(pb::BanUserRequest {
                user_id: marker,
                reason: format!("relay test {tag}"),
                expires_at: None,
            })
            .await);
        marker
    }

    async fn create(&mut self, name: &str) -> i64 {
        ok(self
            .users
            .create_user(pb::CreateUserRequest {
                name: name.into(),
                ..Default::default()
            })
            .await)
        .into_inner()
        .id
    }
}

/// One message JetStream holds.
struct Published {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

impl Published {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default()
    }

    /// The event, from protobuf or JSON as its `Content-Type` says.
    fn decode<E: Message + Default>(&self, message: &str) -> E {
        match self.header("Content-Type").as_str() {
            "application/protobuf" => ok(E::decode(self.payload.clone())),
            "application/json" => {
                let pool = ok(prost_reflect::DescriptorPool::decode(
                    roster_proto::FILE_DESCRIPTOR_SET,
                ));
                let descriptor = pool
                    .get_message_by_name(message)
                    .unwrap_or_else(|| panic!("{message} is not in the descriptor set"));
                let mut json = serde_json::Deserializer::from_slice(&self.payload);
                let dynamic = ok(prost_reflect::DynamicMessage::deserialize(
                    descriptor, &mut json,
                ));
                ok(dynamic.transcode_to::<E>())
            }
            other => panic!("Content-Type {other:?}"),
        }
    }
}

/// A service's event message, as the relay publishes it and its watch streams it.
trait Event: Message + Default + PartialEq + Debug + Sized + 'static {
    const SERVICE: &'static str;
    const MESSAGE: &'static str;
    const KIND_PREFIX: &'static str;
    fn cursor(&self) -> i64;
    fn meta(&self) -> pb::EventMeta;
    /// The kind's enum name (`USER_EVENT_KIND_BANNED`).
    fn kind_name(&self) -> &'static str;
    /// Whether this is the event that ends round `tag` (marker user `marker`).
    fn ends_round(&self, tag: &str, marker: i64) -> bool;
    async fn watch(clients: &mut Clients) -> tonic::Streaming<Self>;
}

fn cursor_of(meta: Option<&pb::EventMeta>) -> i64 {
    ok(meta.map(|m| m.cursor.as_str()).unwrap_or("").parse::<i64>())
}

impl Event for pb::UserEvent {
    const SERVICE: &'static str = "users";
    const KIND_PREFIX: &'static str = "USER_EVENT_KIND_";
    const MESSAGE: &'static str = "roster.v1.UserEvent";
    fn cursor(&self) -> i64 {
        cursor_of(self.meta.as_ref())
    }
    fn meta(&self) -> pb::EventMeta {
        self.meta.clone().unwrap_or_default()
    }
    fn kind_name(&self) -> &'static str {
        self.kind().as_str_name()
    }
    fn ends_round(&self, tag: &str, _: i64) -> bool {
        self.kind() == pb::UserEventKind::Banned
            && self
                .user
                .as_ref()
                .is_some_and(|u| u.name == format!("{tag}-end"))
    }
    async fn watch(clients: &mut Clients) -> tonic::Streaming<Self> {
        ok(clients
            .users
            .watch_user_events(pb::WatchUserEventsRequest::default())
            .await)
        .into_inner()
    }
}

impl Event for pb::RoleEvent {
    const SERVICE: &'static str = "roles";
    const KIND_PREFIX: &'static str = "ROLE_EVENT_KIND_";
    const MESSAGE: &'static str = "roster.v1.RoleEvent";
    fn cursor(&self) -> i64 {
        cursor_of(self.meta.as_ref())
    }
    fn meta(&self) -> pb::EventMeta {
        self.meta.clone().unwrap_or_default()
    }
    fn kind_name(&self) -> &'static str {
        self.kind().as_str_name()
    }
    fn ends_round(&self, _: &str, marker: i64) -> bool {
        self.kind() == pb::RoleEventKind::RoleGranted
            && self.grant.as_ref().is_some_and(|g| g.user_id == marker)
    }
    async fn watch(clients: &mut Clients) -> tonic::Streaming<Self> {
        ok(clients
            .roles
            .watch_role_events(pb::WatchRoleEventsRequest::default())
            .await)
        .into_inner()
    }
}

impl Event for pb::ModerationEvent {
    const SERVICE: &'static str = "moderation";
    const KIND_PREFIX: &'static str = "MODERATION_EVENT_KIND_";
    const MESSAGE: &'static str = "roster.v1.ModerationEvent";
    fn cursor(&self) -> i64 {
        cursor_of(self.meta.as_ref())
    }
    fn meta(&self) -> pb::EventMeta {
        self.meta.clone().unwrap_or_default()
    }
    fn kind_name(&self) -> &'static str {
        self.kind().as_str_name()
    }
    fn ends_round(&self, _: &str, marker: i64) -> bool {
        self.kind() == pb::ModerationEventKind::UserBanned && self.user_id == marker
    }
    async fn watch(clients: &mut Clients) -> tonic::Streaming<Self> {
        ok(clients
            .moderation
            .watch_moderation_events(pb::WatchModerationEventsRequest::default())
            .await)
        .into_inner()
    }
}

/// Reads the service's subjects in JetStream from the start until the event
/// that ends round `tag`; returns every message read, in stream order.
async fn published_until<E: Event>(
    js: &jetstream::Context,
    tag: &str,
    marker: i64,
) -> Vec<Published> {
    let stream = ok(js.get_stream(STREAM).await);
    let consumer = ok(stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("roster.{}.>", E::SERVICE),
            ..Default::default()
        })
        .await);
    let mut messages = ok(consumer.messages().await);
    let mut read = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(message) = messages.next().await {
            let message = ok(message);
            let published = Published {
                subject: message.subject.to_string(),
                headers: message.headers.clone().unwrap_or_default(),
                payload: message.payload.clone(),
            };
            let event: E = published.decode(E::MESSAGE);
            read.push(published);
            if event.ends_round(tag, marker) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found.ok(),
        Some(true),
        "round {tag} never ended on roster.{}.> ({} messages read)",
        E::SERVICE,
        read.len()
    );
    read
}

/// The service's own stream from its start up to `last`.
async fn watched_until<E: Event>(clients: &mut Clients, last: i64) -> Vec<E> {
    let mut stream = E::watch(clients).await;
    let mut events = Vec::new();
    while events.last().is_none_or(|e: &E| e.cursor() < last) {
        let next = tokio::time::timeout(DEADLINE, stream.message()).await;
        events.push(ok(ok(next)).unwrap_or_else(|| panic!("the {} stream ended", E::SERVICE)));
    }
    events
}

/// JetStream holds exactly the service's events up to the end of round `tag`:
/// the same cursors in the same order (nothing lost, nothing twice), the same
/// events, each on its subject with its headers. Returns how many.
async fn assert_relayed<E: Event>(
    js: &jetstream::Context,
    clients: &mut Clients,
    tag: &str,
    marker: i64,
    content_type: &str,
) -> usize {
    let published = published_until::<E>(js, tag, marker).await;
    let last: E = published
        .last()
        .map(|p| p.decode(E::MESSAGE))
        .unwrap_or_default();
    let watched = watched_until::<E>(clients, last.cursor()).await;
    let cursors = |events: &[E]| events.iter().map(E::cursor).collect::<Vec<_>>();
    let relayed: Vec<E> = published.iter().map(|p| p.decode(E::MESSAGE)).collect();
    assert_eq!(
        cursors(&relayed),
        cursors(&watched),
        "{} cursors",
        E::SERVICE
    );
    assert_eq!(relayed, watched, "{} events", E::SERVICE);
    for (message, event) in published.iter().zip(&watched) {
        let kind = event
            .kind_name()
            .trim_start_matches(E::KIND_PREFIX)
            .to_ascii_lowercase();
        let cursor = event.cursor().to_string();
        assert_eq!(message.subject, format!("roster.{}.{kind}", E::SERVICE));
        assert_eq!(message.header("Roster-Service"), E::SERVICE);
        assert_eq!(message.header("Roster-Cursor"), cursor);
        assert_eq!(message.header("Roster-Kind"), kind);
        assert_eq!(message.header("Roster-Message"), E::MESSAGE);
        assert_eq!(message.header("Content-Type"), content_type);
        let meta = event.meta();
        assert!(!meta.request_id.is_empty(), "{meta:?}");
        assert_eq!(message.header("Roster-Request-Id"), meta.request_id);
        assert_eq!(message.header("Roster-Trace-Id"), meta.trace_id);
        assert_eq!(
            message.header("Nats-Msg-Id"),
            format!("{}:{cursor}", E::SERVICE)
        );
    }
    // Published with the message id `<service>:<cursor>`: the stream takes a
    // second publish of the last event for the one it has.
    let id = format!("{}:{}", E::SERVICE, last.cursor());
    let again = jetstream::message::PublishMessage::build()
        .message_id(&id)
        .payload(Bytes::from_static(b"again"));
    let subject = published
        .last()
        .map(|p| p.subject.clone())
        .unwrap_or_default();
    let ack = ok(ok(js.send_publish(subject, again).await).await);
    assert!(ack.duplicate, "{id} was not taken for a duplicate");
    published.len()
}

/// Every service's stream relayed up to the end of round `tag`.
async fn assert_all_relayed(
    js: &jetstream::Context,
    clients: &mut Clients,
    tag: &str,
    marker: i64,
    content_type: &str,
) {
    let users = assert_relayed::<pb::UserEvent>(js, clients, tag, marker, content_type).await;
    let roles = assert_relayed::<pb::RoleEvent>(js, clients, tag, marker, content_type).await;
    let moderation =
        assert_relayed::<pb::ModerationEvent>(js, clients, tag, marker, content_type).await;
    assert!(users > 0 && roles > 0 && moderation > 0);
}

/// NATS, the services and a relay; returns once the relay created its stream.
async fn start(scratch: &Scratch) -> (Process, Process, Process, jetstream::Context) {
    let nats = scratch.nats().await;
    let client = ok(async_nats::connect(format!("nats://127.0.0.1:{}", scratch.nats_port)).await);
    let mut created = ok(client
        .subscribe(format!("$JS.EVENT.ADVISORY.STREAM.CREATED.{STREAM}"))
        .await);
    // The subscription reaches the server before anything can create the
    // stream: the advisory is sent once, to whoever listens then.
    ok(client.flush().await);
    let serve = scratch.serve().await;
    let relay = scratch.relay().await;
    assert!(
        ok(tokio::time::timeout(DEADLINE, created.next()).await).is_some(),
        "the relay never created its stream"
    );
    (nats, serve, relay, jetstream::new(client))
}

#[tokio::test]
async fn every_event_of_every_service_arrives_in_order_with_its_subject_and_headers() {
    let scratch = Scratch::new("protobuf");
    let (_nats, _serve, _relay, js) = start(&scratch).await;
    let mut clients = Clients::connect(&scratch).await;
    let marker = clients.round("a", 5).await;
    assert_all_relayed(&js, &mut clients, "a", marker, "application/protobuf").await;
}

#[tokio::test]
async fn a_relay_killed_mid_stream_resumes_without_loss_or_duplicates() {
    let scratch = Scratch::new("protobuf");
    let (_nats, _serve, relay, js) = start(&scratch).await;
    let mut clients = Clients::connect(&scratch).await;
    let marker = clients.round("a", 3).await;
    assert_all_relayed(&js, &mut clients, "a", marker, "application/protobuf").await;

    // Changes keep coming while the relay dies: killed once it has published
    // the first user of round b, wherever it is in the rest.
    let mut writer = Clients::connect(&scratch).await;
    let round_b = tokio::spawn(async move { writer.round("b", 60).await });
    let stream = ok(js.get_stream(STREAM).await);
    let consumer = ok(stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: "roster.users.created".into(),
            ..Default::default()
        })
        .await);
    let mut created = ok(consumer.messages().await);
    let first_of_b = tokio::time::timeout(DEADLINE, async {
        while let Some(message) = created.next().await {
            let event = ok(pb::UserEvent::decode(ok(message).payload.clone()));
            if event.user.is_some_and(|u| u.name.starts_with("b-")) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(first_of_b.ok(), Some(true));
    relay.kill();
    ok(round_b.await);

    let marker = clients.round("c", 3).await;
    let _relay = scratch.relay().await;
    assert_all_relayed(&js, &mut clients, "c", marker, "application/protobuf").await;
}

#[tokio::test]
async fn a_nats_outage_is_reported_and_caught_up_in_json() {
    let scratch = Scratch::new("json");
    let (nats, _serve, mut relay, js) = start(&scratch).await;
    let mut clients = Clients::connect(&scratch).await;
    let marker = clients.round("a", 3).await;
    assert_all_relayed(&js, &mut clients, "a", marker, "application/json").await;

    // NATS goes away; the services go on answering, the relay says what is wrong.
    nats.kill();
    clients.round("b", 5).await;
    relay
        .wait_for_line("relaying events to NATS failed; nothing is lost")
        .await;

    let _nats = scratch.nats().await;
    let client = ok(async_nats::connect(format!("nats://127.0.0.1:{}", scratch.nats_port)).await);
    let js = jetstream::new(client);
    let marker = clients.round("c", 3).await;
    assert_all_relayed(&js, &mut clients, "c", marker, "application/json").await;
}

#[tokio::test]
async fn roster_serve_runs_the_relay_when_enabled() {
    let scratch = Scratch::new("protobuf");
    let _nats = scratch.nats().await;
    let client = ok(async_nats::connect(format!("nats://127.0.0.1:{}", scratch.nats_port)).await);
    let mut created = ok(client
        .subscribe(format!("$JS.EVENT.ADVISORY.STREAM.CREATED.{STREAM}"))
        .await);
    ok(client.flush().await);
    let _serve = scratch.serve_with_relay().await;
    assert!(ok(tokio::time::timeout(DEADLINE, created.next()).await).is_some());
    let js = jetstream::new(client);
    let mut clients = Clients::connect(&scratch).await;
    let marker = clients.round("a", 3).await;
    assert_all_relayed(&js, &mut clients, "a", marker, "application/protobuf").await;
}

/// Presence is live: it goes out on `roster-live.users.presence_changed` to
/// whoever subscribes at that moment, and never into the stream.
#[tokio::test]
async fn presence_changes_go_out_live_and_not_into_the_stream() {
    let scratch = Scratch::new("protobuf");
    let (_nats, _serve, _relay, js) = start(&scratch).await;
    let mut clients = Clients::connect(&scratch).await;
    // Once this round is relayed, the relay's watch of the users is open.
    let marker = clients.round("a", 1).await;
    assert_all_relayed(&js, &mut clients, "a", marker, "application/protobuf").await;

    let client = ok(async_nats::connect(format!("nats://127.0.0.1:{}", scratch.nats_port)).await);
    let mut live = ok(client.subscribe("roster-live.users.>").await);
    ok(client.flush().await);
    let user = clients.create("present").await;
    ok(clients
        .users
        .set_presence(pb::SetPresenceRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(user)),
            }),
            online: Some(true),
            ..Default::default()
        })
        .await);
    let message = ok(tokio::time::timeout(DEADLINE, live.next()).await)
        .unwrap_or_else(|| panic!("the live subscription ended"));
    assert_eq!(
        message.subject.as_str(),
        "roster-live.users.presence_changed"
    );
    let headers = message.headers.clone().unwrap_or_default();
    let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(header("Roster-Live").as_deref(), Some("true"));
    assert_eq!(header("Roster-Kind").as_deref(), Some("presence_changed"));
    let event = ok(pb::UserEvent::decode(message.payload.clone()));
    assert!(event.meta.as_ref().is_some_and(|m| m.live));
    assert_eq!(event.user.as_ref().map(|u| u.id), Some(user));
    assert_eq!(
        event.user.and_then(|u| u.presence).map(|p| p.online),
        Some(true)
    );
    // The creation before it is kept; the presence change is not.
    let stream = ok(js.get_stream(STREAM).await);
    let created = ok(stream
        .get_last_raw_message_by_subject("roster.users.created")
        .await);
    let created = ok(pb::UserEvent::decode(created.payload.clone()));
    assert_eq!(created.user.map(|u| u.id), Some(user));
    assert!(
        stream
            .get_last_raw_message_by_subject("roster.users.presence_changed")
            .await
            .is_err(),
        "a presence change was stored"
    );
}
