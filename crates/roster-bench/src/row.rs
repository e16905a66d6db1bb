//! One row of a benchmark table: a figure beside its ceiling from the same run.

use serde::Serialize;

use crate::measure::{Latency, Throughput};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub what: String,
    /// "unloaded" or "throughput".
    pub shape: &'static str,
    /// RPS (or another rate, see `unit`) for throughput rows; p99 in ms for unloaded rows.
    pub figure: f64,
    pub unit: &'static str,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: Option<f64>,
    pub errors: u64,
    pub ceiling: String,
    pub ceiling_figure: f64,
    /// figure / ceiling_figure (for latency: how many times the ceiling's p99).
    pub ratio: f64,
    /// Requests measured (unloaded: one after the other; throughput: all completed).
    pub requests: u64,
    /// How the row was measured, when the columns do not say it all (sizes,
    /// concurrency, cache misses, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Row {
    /// An unloaded-latency row: p99 in ms beside the ceiling's p99.
    pub fn latency(what: &str, latency: &Latency, ceiling: &str, ceiling_latency: &Latency) -> Row {
        Row {
            what: what.to_owned(),
            shape: "unloaded",
            figure: latency.p99_ms,
            unit: "ms",
            p50_ms: latency.p50_ms,
            p99_ms: latency.p99_ms,
            max_ms: Some(latency.max_ms),
            errors: 0,
            ceiling: format!("{ceiling} p99"),
            ceiling_figure: ceiling_latency.p99_ms,
            ratio: latency.p99_ms / ceiling_latency.p99_ms,
            requests: latency.requests,
            note: None,
        }
    }

    /// A throughput row: requests per second beside the ceiling's.
    pub fn throughput(
        what: &str,
        run: &Throughput,
        ceiling: &str,
        ceiling_run: &Throughput,
    ) -> Row {
        Row {
            what: what.to_owned(),
            shape: "throughput",
            figure: run.rps,
            unit: "rps",
            p50_ms: run.p50_ms,
            p99_ms: run.p99_ms,
            max_ms: None,
            errors: run.errors,
            ceiling: format!("{ceiling} rps"),
            ceiling_figure: ceiling_run.rps,
            ratio: run.rps / ceiling_run.rps,
            requests: run.requests,
            note: None,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }
}
