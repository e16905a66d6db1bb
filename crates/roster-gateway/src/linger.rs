//! The rest of an upload the answer no longer needs, read and thrown away.
//!
//! The file service may refuse an upload as soon as it reads its header (too
//! large for its purpose, a type it does not take) while the client is still
//! sending the body. Closing the connection with those bytes unread makes the
//! kernel answer them with a reset, which can destroy the refusal before the
//! client has read it: the client sees "connection reset" instead of
//! `FILE_TOO_LARGE`. Like nginx's lingering close, the gateway keeps reading
//! what is left — at most the declared length, for at most [`LINGER_FOR`] — so
//! the refusal arrives and the connection stays usable.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::BodyDataStream;
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// How long the unread rest of a refused upload is read before giving up.
const LINGER_FOR: Duration = Duration::from_secs(10);

/// A request body that, dropped before its end, reads the rest on its own task.
pub struct Lingering {
    inner: Option<BodyDataStream>,
    finished: bool,
    /// The most bytes the rest can hold (the declared length).
    budget: u64,
}

impl Lingering {
    pub fn new(inner: BodyDataStream, declared_length: u64) -> Self {
        Self {
            inner: Some(inner),
            finished: false,
            budget: declared_length,
        }
    }
}

impl Stream for Lingering {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(inner.poll_next_unpin(cx));
        if !matches!(item, Some(Ok(_))) {
            self.finished = true;
        }
        Poll::Ready(item)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Some(rest) = self.inner.take() else {
            return;
        };
        // Outside a runtime (never in the gateway) there is nothing to read on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(discard(rest, self.budget));
        }
    }
}

async fn discard(mut rest: BodyDataStream, budget: u64) {
    let read_all = async {
        let mut read = 0u64;
        while let Some(Ok(bytes)) = rest.next().await {
            read += bytes.len() as u64;
            if read > budget {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_FOR, read_all).await;
}
