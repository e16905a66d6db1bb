//! The benchmark table: each figure beside its ceiling from the same run.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub what: String,
    /// "unloaded" or "throughput".
    pub shape: &'static str,
    /// RPS for throughput rows; p99 in ms for unloaded rows.
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
}

pub fn print_and_save(name: &str, rows: &[Row]) -> anyhow::Result<()> {
    println!();
    println!(
        "{:<34} {:<10} {:>12} {:>9} {:>9} {:>9} {:>7}  {:<26} {:>7}",
        "what", "shape", "figure", "p50 ms", "p99 ms", "max ms", "errors", "ceiling", "ratio"
    );
    for row in rows {
        println!(
            "{:<34} {:<10} {:>8.1} {:<3} {:>9.3} {:>9.3} {:>9} {:>7}  {:<26} {:>7.2}",
            row.what,
            row.shape,
            row.figure,
            row.unit,
            row.p50_ms,
            row.p99_ms,
            row.max_ms.map_or("-".to_owned(), |m| format!("{m:.3}")),
            row.errors,
            row.ceiling,
            row.ratio
        );
    }
    let dir = std::path::Path::new("target/bench");
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(rows)?)?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
