//! The two load shapes of every benchmark row: unloaded latency (one request in
//! flight) and throughput (many in flight over several HTTP/2 connections).

use std::{
    future::Future,
    sync::Arc,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub requests: u64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits; the bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!())
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Something a benchmark calls repeatedly; `lane` picks the connection, `n` varies the input.
pub trait Call: Send + Sync + 'static {
    fn call(&self, lane: usize, n: u64) -> impl Future<Output = Result<(), String>> + Send;
}

pub async fn unloaded<C: Call>(call: &C, requests: usize) -> Latency {
    let mut hist = histogram();
    for n in 0..requests {
        let start = Instant::now();
        if let Err(err) = call.call(0, n as u64).await {
            panic!("unloaded call failed: {err}");
        }
        let _ = hist.record(start.elapsed().as_micros() as u64);
    }
    Latency {
        requests: hist.len(),
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
    }
}

pub async fn throughput<C: Call>(call: Arc<C>, shape: LoadShape) -> Throughput {
    let deadline = Instant::now() + shape.duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..shape.in_flight {
        let call = call.clone();
        let lane = worker % shape.connections;
        workers.push(tokio::spawn(async move {
            let mut hist = histogram();
            let mut errors = 0u64;
            let mut n = worker as u64 * 1_000_003;
            while Instant::now() < deadline {
                let start = Instant::now();
                match call.call(lane, n).await {
                    Ok(()) => {
                        let _ = hist.record(start.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
                n += 1;
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
    }
}
