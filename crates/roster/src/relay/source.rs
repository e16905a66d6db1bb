//! The event streams the relay reads: each service's watch call over gRPC,
//! with a service token, so the relay works beside the services or apart
//! from them. Every event becomes what the relay publishes: its cursor, its
//! kind in lower snake case, and the event message as it came.

use futures::{StreamExt, stream::BoxStream};
use prost::{Message, bytes::Bytes};
use roster_kit::{client::PeerChannel, events::cursor_after};
use roster_proto::v1::{
    self as pb, moderation_service_client::ModerationServiceClient,
    role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tonic::Status;

/// A service whose event stream the relay publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Users,
    Roles,
    Moderation,
}

/// Every stream, in the order the relay starts them.
pub const SOURCES: &[Source] = &[Source::Users, Source::Roles, Source::Moderation];

/// One event ready to publish.
#[derive(Debug, Clone)]
pub struct RelayEvent {
    /// Its sequence in the service's outbox.
    pub cursor: i64,
    /// The kind in lower snake case, without its enum's prefix (`banned`).
    pub kind: String,
    /// When it was committed, for the lag metric.
    pub occurred_at: Option<prost_types::Timestamp>,
    /// The request and trace that made the change (empty: none).
    pub request_id: String,
    pub trace_id: String,
    /// The event message, protobuf-encoded.
    pub payload: Bytes,
    /// Not kept by the service (`EventMeta.live`): published live, not to the stream.
    pub live: bool,
}

pub type Events = BoxStream<'static, Result<RelayEvent, Status>>;

impl Source {
    /// The service's name: the second token of its subjects.
    pub fn name(self) -> &'static str {
        match self {
            Source::Users => "users",
            Source::Roles => "roles",
            Source::Moderation => "moderation",
        }
    }

    /// The peer that serves it.
    pub fn peer(self) -> roster_kit::service::Peer {
        use roster_kit::service::Peer;
        match self {
            Source::Users => Peer::Users,
            Source::Roles => Peer::Roles,
            Source::Moderation => Peer::Moderation,
        }
    }

    /// The full name of its event message (`Content-Type`'s `proto` parameter).
    pub fn message_name(self) -> &'static str {
        match self {
            Source::Users => "roster.v1.UserEvent",
            Source::Roles => "roster.v1.RoleEvent",
            Source::Moderation => "roster.v1.ModerationEvent",
        }
    }

    /// The events after `after` (0: from the oldest kept), then every new one.
    pub async fn open(self, channel: PeerChannel, after: i64) -> Result<Events, Status> {
        let after_cursor = cursor_after(after);
        Ok(match self {
            Source::Users => UserServiceClient::new(channel)
                .watch_user_events(pb::WatchUserEventsRequest {
                    after_cursor,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .map(|event| {
                    event.and_then(|e| {
                        let kind = e.kind().as_str_name();
                        relay_event(e.meta.as_ref(), kind, "USER_EVENT_KIND_", &e)
                    })
                })
                .boxed(),
            Source::Roles => RoleServiceClient::new(channel)
                .watch_role_events(pb::WatchRoleEventsRequest {
                    after_cursor,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .map(|event| {
                    event.and_then(|e| {
                        let kind = e.kind().as_str_name();
                        relay_event(e.meta.as_ref(), kind, "ROLE_EVENT_KIND_", &e)
                    })
                })
                .boxed(),
            Source::Moderation => ModerationServiceClient::new(channel)
                .watch_moderation_events(pb::WatchModerationEventsRequest {
                    after_cursor,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .map(|event| {
                    event.and_then(|e| {
                        let kind = e.kind().as_str_name();
                        relay_event(e.meta.as_ref(), kind, "MODERATION_EVENT_KIND_", &e)
                    })
                })
                .boxed(),
        })
    }
}

fn relay_event(
    meta: Option<&pb::EventMeta>,
    kind: &str,
    prefix: &str,
    message: &impl Message,
) -> Result<RelayEvent, Status> {
    let meta = meta.ok_or_else(|| Status::internal("an event without meta"))?;
    let cursor = meta
        .cursor
        .parse::<i64>()
        .map_err(|_| Status::internal(format!("an event with cursor {:?}", meta.cursor)))?;
    Ok(RelayEvent {
        cursor,
        kind: subject_kind(kind, prefix),
        occurred_at: meta.occurred_at,
        request_id: meta.request_id.clone(),
        trace_id: meta.trace_id.clone(),
        payload: message.encode_to_vec().into(),
        live: meta.live,
    })
}

/// `USER_EVENT_KIND_BANNED` → `banned`. A kind this build does not know (a
/// newer server) decodes as UNSPECIFIED; it still gets a subject of its own.
fn subject_kind(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_lower_snake_case_without_their_prefix() {
        assert_eq!(
            subject_kind("ROLE_EVENT_KIND_ROLE_REVOKED", "ROLE_EVENT_KIND_"),
            "role_revoked"
        );
        let banned = pb::UserEventKind::Banned.as_str_name();
        assert_eq!(subject_kind(banned, "USER_EVENT_KIND_"), "banned");
    }
}
