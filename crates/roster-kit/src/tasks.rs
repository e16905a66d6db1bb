//! Tasks that run in the background for as long as their owner keeps them.

use std::{future::Future, time::Duration};

/// A task that runs until this handle is dropped.
pub struct BackgroundTask(tokio::task::AbortHandle);

impl BackgroundTask {
    pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(task).abort_handle())
    }
}

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `tick` every `interval` until the returned task is dropped: how a
/// replica notices commits of the others in its own database.
pub fn every<F, Fut>(interval: Duration, mut tick: F) -> BackgroundTask
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    BackgroundTask::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            tick().await;
        }
    })
}
