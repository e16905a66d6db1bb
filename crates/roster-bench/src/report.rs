//! The benchmark table: each figure beside its ceiling from the same run.

use crate::history;
pub use crate::row::Row;

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
