//! The two load shapes of every benchmark row: unloaded latency (one request in
//! flight) and throughput (many in flight over several HTTP/2 connections).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    pub unloaded_requests: usize,
    pub in_flight: usize,
    pub connections: usize,
    pub duration: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Mean time per request, for rates at one in flight (bytes per second).
    pub mean_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub requests: u64,
    /// Wall time of the run, in seconds (shorter than the shape's when a cap stopped it).
    pub seconds: f64,
}

impl Throughput {
    /// This run and `other` of the same calls taken as one: their requests
    /// over their time together; the mean of their medians, the worse p99.
    pub fn pooled(&self, other: &Throughput) -> Throughput {
        let requests = self.requests + other.requests;
        let seconds = self.seconds + other.seconds;
        Throughput {
            rps: requests as f64 / seconds,
            p50_ms: (self.p50_ms + other.p50_ms) / 2.0,
            p99_ms: self.p99_ms.max(other.p99_ms),
            errors: self.errors + other.errors,
            requests,
            seconds,
        }
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 ns .. 60 s at 3 significant digits (in-process calls take well under a
    // microsecond); the bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!())
}

pub fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

pub fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1_000_000.0
}

/// Something a benchmark calls repeatedly; `lane` picks the connection, `n` varies the input.
pub trait Call: Send + Sync + 'static {
    fn call(&self, lane: usize, n: u64) -> impl Future<Output = Result<(), String>> + Send;
}

/// `requests` calls one after the other; the first failure ends the run.
pub async fn unloaded<C: Call>(call: &C, requests: usize) -> anyhow::Result<Latency> {
    unloaded_within(call, requests, Duration::MAX).await
}

/// Like [`unloaded`], but stops early once `limit` has passed (slow calls).
pub async fn unloaded_within<C: Call>(
    call: &C,
    requests: usize,
    limit: Duration,
) -> anyhow::Result<Latency> {
    let mut hist = histogram();
    let started = Instant::now();
    for n in 0..requests {
        let start = Instant::now();
        if let Err(err) = call.call(0, n as u64).await {
            anyhow::bail!("unloaded call {n} failed: {err}");
        }
        let _ = hist.record(nanos(start.elapsed()));
        if started.elapsed() >= limit {
            break;
        }
    }
    Ok(latency_of(&hist, started.elapsed()))
}

/// The latency figures of `hist`, recorded one call after the other over `elapsed`.
pub fn latency_of(hist: &Histogram<u64>, elapsed: Duration) -> Latency {
    Latency {
        requests: hist.len(),
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        mean_ms: elapsed.as_secs_f64() * 1000.0 / hist.len().max(1) as f64,
    }
}

pub async fn throughput<C: Call>(call: Arc<C>, shape: LoadShape) -> Throughput {
    throughput_capped(call, shape, u64::MAX).await
}

/// Like [`throughput`], but the run also ends once `max_requests` calls have
/// started (bounds what a run writes to disk).
pub async fn throughput_capped<C: Call>(
    call: Arc<C>,
    shape: LoadShape,
    max_requests: u64,
) -> Throughput {
    let deadline = Instant::now() + shape.duration;
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..shape.in_flight {
        let call = call.clone();
        let issued = issued.clone();
        let lane = worker % shape.connections.max(1);
        workers.push(tokio::spawn(async move {
            let mut hist = histogram();
            let mut errors = 0u64;
            let mut n = worker as u64 * 1_000_003;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_requests
            {
                let start = Instant::now();
                match call.call(lane, n).await {
                    Ok(()) => {
                        let _ = hist.record(nanos(start.elapsed()));
                    }
                    Err(_) => errors += 1,
                }
                n += 1;
                // Calls that never wait (in-process cache hits) must still let the
                // server's and the other workers' tasks run.
                tokio::task::coop::consume_budget().await;
            }
            (hist, errors)
        }));
    }
    let mut total = histogram();
    let mut errors = 0;
    for worker in workers {
        if let Ok((hist, worker_errors)) = worker.await {
            let _ = total.add(&hist);
            errors += worker_errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Throughput {
        rps: total.len() as f64 / elapsed,
        p50_ms: ms(total.value_at_quantile(0.50)),
        p99_ms: ms(total.value_at_quantile(0.99)),
        errors,
        requests: total.len(),
        seconds: elapsed,
    }
}

/// Longest unloaded run of [`both`]: slow calls get fewer than the requested
/// requests (the row's `requests` says how many).
pub const UNLOADED_LIMIT: Duration = Duration::from_secs(15);

/// Warms up (connections, caches, the pool) with 200 calls, then measures both shapes.
pub async fn both<C: Call>(call: C, shape: LoadShape) -> anyhow::Result<(Latency, Throughput)> {
    unloaded_within(&call, 200, UNLOADED_LIMIT / 5).await?;
    let latency = unloaded_within(&call, shape.unloaded_requests, UNLOADED_LIMIT).await?;
    let throughput = throughput(Arc::new(call), shape).await;
    Ok((latency, throughput))
}

/// A benchmarked call: `f(lane, n)` with `n` varying the input; `lanes` are the
/// per-connection clients.
pub struct Rpc<L, F> {
    pub lanes: Vec<L>,
    pub f: F,
}

impl<L, F, Fut> Call for Rpc<L, F>
where
    L: Clone + Send + Sync + 'static,
    F: Fn(L, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    fn call(&self, lane: usize, n: u64) -> impl Future<Output = Result<(), String>> + Send {
        (self.f)(self.lanes[lane % self.lanes.len()].clone(), n)
    }
}

/// p50/p99/max (and mean) of timed `samples` (none: a single zero).
pub fn of_samples(mut samples: Vec<Duration>) -> Latency {
    if samples.is_empty() {
        samples.push(Duration::ZERO);
    }
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    let mean =
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / samples.len() as f64;
    Latency {
        requests: samples.len() as u64,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        mean_ms: mean,
    }
}

/// Deterministic scatter of request numbers over the loaded ids.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::Throughput;

    #[test]
    fn pooled_runs_count_their_requests_over_their_time_together() {
        let run = |requests: u64, seconds: f64, p50_ms: f64, p99_ms: f64| Throughput {
            rps: requests as f64 / seconds,
            p50_ms,
            p99_ms,
            errors: 1,
            requests,
            seconds,
        };
        let pooled = run(300, 1.0, 2.0, 9.0).pooled(&run(100, 3.0, 4.0, 5.0));
        assert_eq!(pooled.requests, 400);
        assert!((pooled.rps - 100.0).abs() < 1e-9, "{}", pooled.rps);
        assert!((pooled.p50_ms - 3.0).abs() < 1e-9);
        assert!((pooled.p99_ms - 9.0).abs() < 1e-9);
        assert_eq!(pooled.errors, 2);
    }
}
