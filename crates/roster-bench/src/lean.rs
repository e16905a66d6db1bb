//! A lean gRPC load generator: raw HTTP/2 streams (the `h2` crate) posting
//! prebuilt frames, on one thread of its own with a single-threaded runtime.
//! A call's body is one message (unary calls) or several (client-streaming
//! calls such as UploadFile, whose shared chunk frames are sent without a copy).
//!
//! The bench's tonic client shares the process and the two cores with the
//! server and costs about as much CPU per call as the server does, so a
//! ceiling it drives says as much about the client as about the server. This
//! one spends a few microseconds per call and at most one core, and reports
//! how much CPU it took next to every figure. Unlike h2load it varies the
//! request per call (`frame(n)`: any user, any keyword) and reads each call's
//! `grpc-status`, so a failed call counts as an error, not as an answer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderValue, Request};

use crate::{
    h2load,
    measure::{Latency, LoadShape, Throughput, histogram, latency_of, ms, nanos},
    report::Row,
};

/// The request a call posts: its path, then for call `n` its `authorization`
/// header and frames, and at most how many calls a throughput run makes.
pub struct LeanCall {
    pub path: &'static str,
    request: Arc<dyn Fn(u64) -> (HeaderValue, Vec<Bytes>) + Send + Sync>,
    cap: u64,
}

impl LeanCall {
    /// A unary call of `message(n)` with one bearer token.
    pub fn new<M: prost::Message>(
        path: &'static str,
        token: &str,
        message: impl Fn(u64) -> M + Send + Sync + 'static,
    ) -> Self {
        Self::streaming(path, token, move |n| {
            vec![Bytes::from(h2load::frame(&message(n)))]
        })
    }

    /// A call whose body is the gRPC frames `frames(n)` (a client stream).
    pub fn streaming(
        path: &'static str,
        token: &str,
        frames: impl Fn(u64) -> Vec<Bytes> + Send + Sync + 'static,
    ) -> Self {
        let authorization = bearer(token);
        Self::with(path, move |n| (authorization.clone(), frames(n)))
    }

    /// A unary call whose token varies too: `call(n)` is (which of `tokens`,
    /// message), e.g. each user setting their own presence.
    pub fn per_caller<M: prost::Message>(
        path: &'static str,
        tokens: Vec<String>,
        call: impl Fn(u64) -> (usize, M) + Send + Sync + 'static,
    ) -> Self {
        let headers: Vec<HeaderValue> = tokens.iter().map(|t| bearer(t)).collect();
        Self::with(path, move |n| {
            let (caller, message) = call(n);
            (
                headers[caller % headers.len()].clone(),
                vec![Bytes::from(h2load::frame(&message))],
            )
        })
    }

    fn with(
        path: &'static str,
        request: impl Fn(u64) -> (HeaderValue, Vec<Bytes>) + Send + Sync + 'static,
    ) -> Self {
        Self {
            path,
            request: Arc::new(request),
            cap: u64::MAX,
        }
    }

    /// Ends a throughput run once `calls` have started (bounds what it writes).
    pub fn capped(mut self, calls: u64) -> Self {
        self.cap = calls;
        self
    }
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"))
}

/// A run's figures and the generator's CPU time over its wall time (cores).
#[derive(Debug, Clone)]
pub struct LeanRun {
    pub latency: Latency,
    pub throughput: Throughput,
    pub client_cores: f64,
}

impl LeanRun {
    /// What the notes of its rows say about the generator.
    pub fn note(&self) -> String {
        format!("lean client, {:.2} cores", self.client_cores)
    }

    /// Its unloaded and throughput rows beside `ceiling`'s (another lean run).
    pub fn rows(&self, what: &str, ceiling_name: &str, ceiling: &LeanRun) -> [Row; 2] {
        let note = format!("{}; ceiling's {:.2}", self.note(), ceiling.client_cores);
        [
            Row::latency(what, &self.latency, ceiling_name, &ceiling.latency)
                .with_note(note.clone()),
            Row::throughput(what, &self.throughput, ceiling_name, &ceiling.throughput)
                .with_note(note),
        ]
    }
}

/// [`run`] from async code: the generator blocks a thread of its own.
pub async fn measure(address: &str, call: LeanCall, shape: LoadShape) -> anyhow::Result<LeanRun> {
    let address = address.to_owned();
    tokio::task::spawn_blocking(move || run(&address, call, shape)).await?
}

/// Unloaded latency (one call at a time, `shape.unloaded_requests` calls),
/// then throughput (`shape.in_flight` calls over `shape.connections`
/// connections for `shape.duration`), after a warm-up. Either shape is
/// skipped when its count is 0.
pub fn run(address: &str, call: LeanCall, shape: LoadShape) -> anyhow::Result<LeanRun> {
    let address = address.trim_start_matches("http://").to_owned();
    let thread = std::thread::Builder::new()
        .name("lean-client".into())
        .spawn(move || -> anyhow::Result<LeanRun> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drive(&address, call, shape))
        })?;
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the lean client panicked"))?
}

async fn drive(address: &str, call: LeanCall, shape: LoadShape) -> anyhow::Result<LeanRun> {
    let call = Arc::new(call);
    let mut lanes = Vec::new();
    for _ in 0..shape.connections.max(1) {
        lanes.push(connect(address).await?);
    }
    let authority = address.to_owned();
    let one = |lane: usize, n: u64| {
        let sender = lanes[lane % lanes.len()].clone();
        let call = call.clone();
        let authority = authority.clone();
        async move { post(sender, &authority, &call, n).await }
    };
    // Warm-up (connections, caches, the pool), in proportion to large calls.
    let warm_up = (shape.unloaded_requests as u64 / 10).clamp(10, 200);
    for n in 0..warm_up {
        one(0, u64::MAX - n).await?;
    }
    let mut hist = histogram();
    let started = Instant::now();
    for n in 0..shape.unloaded_requests as u64 {
        let start = Instant::now();
        one(0, n).await?;
        let _ = hist.record(nanos(start.elapsed()));
        if started.elapsed() > crate::measure::UNLOADED_LIMIT {
            break;
        }
    }
    let latency = latency_of(&hist, started.elapsed());

    let cpu_before = thread_cpu();
    let deadline = Instant::now() + shape.duration;
    let errors = Arc::new(AtomicU64::new(0));
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..shape.in_flight {
        let sender = lanes[worker % lanes.len()].clone();
        let call = call.clone();
        let authority = authority.clone();
        let errors = errors.clone();
        let issued = issued.clone();
        workers.push(tokio::spawn(async move {
            let mut hist = histogram();
            // Apart from the unloaded calls' inputs (0, 1, …) and each other's.
            let mut n = (worker as u64 + 1) * 1_000_003;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < call.cap {
                let start = Instant::now();
                match post(sender.clone(), &authority, &call, n).await {
                    Ok(()) => {
                        let _ = hist.record(nanos(start.elapsed()));
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
            hist
        }));
    }
    let mut total = histogram();
    for worker in workers {
        let _ = total.add(&worker.await?);
    }
    let elapsed = started.elapsed();
    let client_cores = (thread_cpu() - cpu_before).as_secs_f64() / elapsed.as_secs_f64();
    let throughput = Throughput {
        rps: total.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: ms(total.value_at_quantile(0.5)),
        p99_ms: ms(total.value_at_quantile(0.99)),
        errors: errors.load(Ordering::Relaxed),
        requests: total.len(),
        seconds: elapsed.as_secs_f64(),
    };
    Ok(LeanRun {
        latency,
        throughput,
        client_cores,
    })
}

type Sender = h2::client::SendRequest<Bytes>;

async fn connect(address: &str) -> anyhow::Result<Sender> {
    let tcp = tokio::net::TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 24)
        .handshake(tcp)
        .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One call: the request, the answer read to its end, its `grpc-status` 0.
async fn post(sender: Sender, authority: &str, call: &LeanCall, n: u64) -> anyhow::Result<()> {
    let mut sender = sender.ready().await?;
    let (authorization, frames) = (call.request)(n);
    let request = Request::post(format!("http://{authority}{}", call.path))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", authorization)
        .body(())?;
    let (response, mut stream) = sender.send_request(request, false)?;
    let last = frames.len().saturating_sub(1);
    // Queued whole: h2 sends each as the peer's window opens, and the frames
    // are shared buffers, so queueing copies nothing.
    for (i, frame) in frames.into_iter().enumerate() {
        stream.send_data(frame, i == last)?;
    }
    let response = response.await?;
    let (head, mut body) = response.into_parts();
    if let Some(status) = head.headers.get("grpc-status") {
        // A trailers-only answer: an error (or an empty success).
        return grpc_ok(status);
    }
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body
        .trailers()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no trailers"))?;
    match trailers.get("grpc-status") {
        Some(status) => grpc_ok(status),
        None => anyhow::bail!("no grpc-status"),
    }
}

fn grpc_ok(status: &HeaderValue) -> anyhow::Result<()> {
    if status.as_bytes() == b"0" {
        Ok(())
    } else {
        anyhow::bail!("grpc-status {status:?}")
    }
}

/// CPU time this thread has run (Linux's schedstat, in nanoseconds).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
