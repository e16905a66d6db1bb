//! The benchmark table: each figure beside its ceiling from the same run.

use serde::Serialize;

use crate::{
    history,
    measure::{Latency, Throughput},
};

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

/// A figure in a 9-character column: fixed 3 decimals, more significant digits
/// below 0.1 (in-process calls take microseconds).
fn num(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        format!("{value:.3}")
    } else if value.abs() >= 1000.0 {
        format!("{value:.1}")
    } else if value.abs() >= 0.1 {
        format!("{value:.3}")
    } else {
        let digits = (-value.abs().log10().floor()) as usize + 2;
        format!("{value:.digits$}")
    }
}

/// Saves the suite's table (keeping the previous run's) and prints it, each
/// ratio beside its change since the previous run.
pub fn print_and_save(name: &str, rows: &[Row]) -> anyhow::Result<()> {
    let command = history::command();
    let previous = history::save(&history::Saved {
        suite: name,
        machine: history::machine(),
        command: command.clone(),
        measured_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        rows,
    })?;
    // Ratios of runs with other arguments (users, seconds, in flight) are not
    // comparable: only a run of the same command is.
    let (previous, other) = match previous {
        Some(before) if before.command != command => (None, Some(before)),
        before => (before, None),
    };
    let what_width = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0)
        .max(34);
    let ceiling_width = rows
        .iter()
        .map(|r| r.ceiling.chars().count())
        .max()
        .unwrap_or(0)
        .max(26);
    println!();
    println!(
        "{:<what_width$} {:<10} {:>17} {:>9} {:>9} {:>9} {:>8} {:>6}  {:<ceiling_width$} {:>11} {:>9} {:>13}  note",
        "what",
        "shape",
        "figure",
        "p50 ms",
        "p99 ms",
        "max ms",
        "requests",
        "errors",
        "ceiling",
        "ceiling fig",
        "ratio",
        "vs previous"
    );
    let mut flagged = 0;
    for row in rows {
        let change = history::change(previous.as_ref(), row);
        flagged += usize::from(change.ends_with("WORSE"));
        println!(
            "{:<what_width$} {:<10} {:>11} {:<5} {:>9} {:>9} {:>9} {:>8} {:>6}  {:<ceiling_width$} {:>11} {:>9} {:>13}  {}",
            row.what,
            row.shape,
            num(row.figure),
            row.unit,
            num(row.p50_ms),
            num(row.p99_ms),
            row.max_ms.map_or("-".to_owned(), num),
            row.requests,
            row.errors,
            row.ceiling,
            num(row.ceiling_figure),
            num(row.ratio),
            change,
            row.note.as_deref().unwrap_or("")
        );
    }
    match &previous {
        Some(previous) => println!(
            "\nchanges against the run of {} ({}); {flagged} ratio(s) more than {:.0}% worse",
            previous.measured_at,
            previous.command,
            history::FLAG_WORSE * 100.0
        ),
        None => match other {
            Some(other) => println!(
                "\nnot compared: the previous run ({}) was `{}`",
                other.measured_at, other.command
            ),
            None => println!("\nno previous run of this suite to compare with"),
        },
    }
    println!("written to {}/{name}.json", history::DIR);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn small_figures_keep_significant_digits() {
        assert_eq!(num(0.000_312), "0.000312");
        assert_eq!(num(0.0312), "0.0312");
        assert_eq!(num(0.25), "0.250");
        assert_eq!(num(22_000.44), "22000.4");
        assert_eq!(num(0.0), "0.000");
    }
}
