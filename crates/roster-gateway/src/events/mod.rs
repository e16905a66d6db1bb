//! Server-sent events: the user event hub, and the SSE streams built from it
//! or from a service's own watch stream.
//!
//! Every SSE event of a kept change carries the service's cursor as its `id`,
//! so a client that reconnects sends it back as `Last-Event-ID` and resumes
//! right after it. Live events (presence) carry no `id`: they are never
//! replayed, and the client's last id stays that of the last kept change. A
//! failure after the stream started arrives as an `error` event carrying the
//! usual error body, and ends the stream.

pub mod hub;

use std::{convert::Infallible, sync::Arc};

use axum::response::sse::Event;
use futures::{StreamExt, stream::BoxStream};
use http::HeaderMap;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ApiResult};
use hub::{Stamped, Subscription};

pub type SseStream = BoxStream<'static, Result<Event, Infallible>>;

/// `Last-Event-ID`: the cursor to resume after.
pub fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let raw = value.to_str().unwrap_or_default().trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|cursor| *cursor >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_field("Last-Event-ID", "is not an event id of this stream")
                .with_reason("CURSOR_INVALID")
        })
}

/// One SSE event of JSON data.
pub fn event(name: &str, id: Option<&str>, data: &impl Serialize) -> Event {
    let event = Event::default().event(name);
    let event = match id {
        Some(id) => event.id(id),
        None => event,
    };
    event
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event("error").data("{}"))
}

/// The `error` event that ends a stream.
pub fn error_event(error: &ApiError) -> Event {
    event("error", None, &error.body())
}

/// A stream that is one event, then nothing.
pub fn once(event: Event) -> SseStream {
    futures::stream::once(async move { Ok(event) }).boxed()
}

/// What a stream does with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Not for this stream.
    Skip,
    Send,
    /// Send it, then end the stream (e.g. the session it was opened with ended).
    Last,
}

impl From<bool> for Pass {
    fn from(send: bool) -> Self {
        if send { Pass::Send } else { Pass::Skip }
    }
}

/// The hub's events from `subscription` on, as `pass` decides, rendered by `render`.
pub fn from_hub<P, R>(subscription: Subscription, pass: P, render: R) -> SseStream
where
    P: Fn(&Stamped) -> Pass + Send + Sync + 'static,
    R: Fn(&Stamped) -> Event + Send + Sync + 'static,
{
    let Subscription {
        receiver,
        backlog,
        position,
    } = subscription;
    let pass = Arc::new(pass);
    let render = Arc::new(render);
    let seen = position.unwrap_or(0);
    let backlog: std::collections::VecDeque<_> = backlog.into();
    futures::stream::unfold(Some((backlog, receiver, seen)), move |state| {
        let pass = pass.clone();
        let render = render.clone();
        async move {
            let (mut backlog, mut receiver, mut seen) = state?;
            loop {
                let event = match backlog.pop_front() {
                    Some(event) => event,
                    None => match receiver.recv().await {
                        Ok(event) if !event.live && event.cursor <= seen => continue,
                        Ok(event) => event,
                        Err(RecvError::Lagged(_)) => {
                            let error = ApiError::new(
                                "UNAVAILABLE",
                                "this stream fell behind; reconnect with Last-Event-ID to resume",
                            );
                            return Some((Ok(error_event(&error)), None));
                        }
                        Err(RecvError::Closed) => return None,
                    },
                };
                if !event.live {
                    seen = seen.max(event.cursor);
                }
                match pass(&event) {
                    Pass::Skip => {}
                    Pass::Send => {
                        return Some((Ok(render(&event)), Some((backlog, receiver, seen))));
                    }
                    Pass::Last => return Some((Ok(render(&event)), None)),
                }
            }
        }
    })
    .boxed()
}

/// A service's own watch stream, as `pass` decides, rendered by `render`; a
/// failure becomes an `error` event that ends the stream.
pub fn from_watch<T, P, R>(stream: tonic::Streaming<T>, pass: P, render: R) -> SseStream
where
    T: Send + 'static,
    P: Fn(&T) -> Pass + Send + Sync + 'static,
    R: Fn(T) -> Event + Send + Sync + 'static,
{
    let pass = Arc::new(pass);
    let render = Arc::new(render);
    futures::stream::unfold(Some(stream), move |state| {
        let pass = pass.clone();
        let render = render.clone();
        async move {
            let mut stream = state?;
            loop {
                match stream.message().await {
                    Ok(Some(message)) => match pass(&message) {
                        Pass::Skip => {}
                        Pass::Send => return Some((Ok(render(message)), Some(stream))),
                        Pass::Last => return Some((Ok(render(message)), None)),
                    },
                    Ok(None) => return None,
                    Err(status) => {
                        return Some((Ok(error_event(&ApiError::from(status))), None));
                    }
                }
            }
        }
    })
    .boxed()
}
