//! The terminal table: one row per cell, from finished results only.

use std::fmt::Write as _;

use crate::results::RunResult;

fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

/// The results table as text (ends with a newline).
pub fn render(run: &RunResult) -> String {
    let headers = [
        "pg",
        "strategy",
        "index",
        "workers",
        "leases/s",
        "commits/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "empty",
        "errors",
        "lost",
        "double",
    ];
    let rows: Vec<[String; 14]> = run
        .cells
        .iter()
        .map(|c| {
            [
                short_version(&c.pg_version).to_string(),
                c.strategy.clone(),
                c.index.clone(),
                c.workers.to_string(),
                format!("{:.1}", c.throughput_per_s),
                format!("{:.1}", c.commits_per_s),
                format!("{:.3}", c.lease.p50_ms),
                format!("{:.3}", c.lease.p95_ms),
                format!("{:.3}", c.lease.p99_ms),
                format!("{:.3}", c.lease.max_ms),
                c.empty_polls.to_string(),
                c.errors_total.to_string(),
                c.audit.lost.to_string(),
                c.audit.double_leased.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let text_cols = 3; // pg, strategy, index are left-aligned
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < text_cols {
                    format!("{:<w$}", c, w = widths[i])
                } else {
                    format!("{:>w$}", c, w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &headers);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(|s| s.as_str()).collect();
        line(&mut out, &cells);
    }
    for c in &run.cells {
        for n in &c.notes {
            let _ = writeln!(
                out,
                "note: {} {} {} workers={}: {n}",
                short_version(&c.pg_version),
                c.strategy,
                c.index,
                c.workers
            );
        }
        if !c.audit.states_add_up() {
            let _ = writeln!(
                out,
                "note: {} {} {} workers={}: audit states do not add up to the {} items seeded",
                short_version(&c.pg_version),
                c.strategy,
                c.index,
                c.workers,
                c.audit.seeded
            );
        }
    }
    if run.partial {
        let _ = writeln!(
            out,
            "PARTIAL RUN: {}",
            run.stopped_because
                .as_deref()
                .unwrap_or("not every cell ran")
        );
    }
    out
}
