//! The edges of a call's and a server's life: the deadline every call gets
//! (answered DEADLINE_EXCEEDED with a reason, not a bare CANCELLED), and the
//! drain that ends open server streams with a status telling clients to
//! reconnect, so a shutting-down server does not wait on watches that never end.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::{Body, Frame};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Status;

use crate::error::{Error, ErrorKind};

/// The deadline of a call: the server's `request_timeout_ms`, or the client's
/// `grpc-timeout` when it is sooner.
fn deadline(limit: Duration, headers: &http::HeaderMap) -> Duration {
    headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(limit, |asked| asked.min(limit))
}

/// `grpc-timeout` as the gRPC HTTP/2 protocol writes it: up to 8 digits and a unit.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

fn deadline_exceeded(after: Duration) -> Status {
    Error::new(
        ErrorKind::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        format!(
            "the call did not complete within its deadline of {} ms (the server's request_timeout_ms, or the client's own deadline when sooner)",
            after.as_millis()
        ),
    )
    .into()
}

/// Tower layer: answers a call that has not produced its response within its
/// deadline with DEADLINE_EXCEEDED / DEADLINE_EXCEEDED. The deadline covers the
/// request (a client-streamed upload included) up to the response's headers;
/// a server stream, once started, runs on.
#[derive(Clone)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let after = deadline(self.limit, request.headers());
        let call = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(after, call).await {
                Ok(answer) => answer,
                Err(_) => Ok(deadline_exceeded(after).into_http()),
            }
        })
    }
}

/// Tower layer: when `drain` is cancelled, every response body still
/// streaming ends with UNAVAILABLE / SHUTTING_DOWN ("reconnect"). Unary
/// answers are complete as soon as they are sent, so only streams are cut.
#[derive(Clone)]
pub struct DrainLayer {
    drain: CancellationToken,
}

impl DrainLayer {
    pub fn new(drain: CancellationToken) -> Self {
        Self { drain }
    }
}

impl<S> tower::Layer<S> for DrainLayer {
    type Service = Drain<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Drain {
            inner,
            drain: self.drain.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Drain<S> {
    inner: S,
    drain: CancellationToken,
}

impl<S, B> tower::Service<http::Request<B>> for Drain<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let drain = self.drain.clone();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            Ok(response.map(|body| {
                tonic::body::Body::new(DrainedBody {
                    inner: body,
                    drained: Box::pin(drain.cancelled_owned()),
                    ended: false,
                })
            }))
        })
    }
}

/// A response body that ends with a "reconnect" status once the server drains.
struct DrainedBody {
    inner: tonic::body::Body,
    drained: Pin<Box<WaitForCancellationFutureOwned>>,
    ended: bool,
}

fn shutting_down_trailers() -> http::HeaderMap {
    let status: Status = Error::new(
        ErrorKind::Unavailable,
        "SHUTTING_DOWN",
        "the server is shutting down; reconnect (to another replica) and resume",
    )
    .into();
    let mut trailers = http::HeaderMap::new();
    // Only a header that cannot be encoded fails; the status above always can.
    let _ = status.add_header(&mut trailers);
    trailers
}

impl Body for DrainedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            if frame.is_none() {
                self.ended = true;
            }
            return Poll::Ready(frame);
        }
        if self.drained.as_mut().poll(cx).is_ready() {
            self.ended = true;
            return Poll::Ready(Some(Ok(Frame::trailers(shutting_down_trailers()))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_garbage_is_ignored() {
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("150m"), Some(Duration::from_millis(150)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5u"), Some(Duration::from_micros(5)));
        for bad in ["", "S", "123456789S", "1x", "-1S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_sooner_deadline_wins() {
        let mut headers = http::HeaderMap::new();
        let limit = Duration::from_secs(10);
        assert_eq!(deadline(limit, &headers), limit);
        headers.insert("grpc-timeout", http::HeaderValue::from_static("500m"));
        assert_eq!(deadline(limit, &headers), Duration::from_millis(500));
        headers.insert("grpc-timeout", http::HeaderValue::from_static("1M"));
        assert_eq!(deadline(limit, &headers), limit);
    }
}
