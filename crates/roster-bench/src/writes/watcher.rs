//! A `WatchUserEvents` follower timing how long each event took from its
//! write to its delivery.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};

use crate::measure::{self, Latency};

/// A `WatchUserEvents` follower recording how long each PRESENCE_CHANGED
/// event took from its write to its delivery.
pub struct Watcher {
    samples: Arc<Mutex<Vec<Duration>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    pub fn reset(&self) {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    pub fn latency(&self) -> Latency {
        let samples = std::mem::take(
            &mut *self
                .samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        measure::of_samples(samples)
    }
}

pub async fn watch<T>(mut admin: UserServiceClient<T>) -> anyhow::Result<Watcher>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Send + 'static,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    T::Future: Send,
{
    let mut stream = admin
        .watch_user_events(pb::WatchUserEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await?
        .into_inner();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let recorded = samples.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            let written = event
                .meta
                .and_then(|m| m.occurred_at)
                .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
            if let Some(written) = written {
                let delay = (chrono::Utc::now() - written).to_std().unwrap_or_default();
                recorded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(delay);
            }
        }
    });
    Ok(Watcher {
        samples,
        _task: task,
    })
}
