//! The terminal tables: one row per cell, then the lease plans; from
//! finished results only.

use std::fmt::Write as _;

use crate::results::RunResult;

fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

/// Columns padded to their widest cell; `right[i]` right-aligns column i.
pub fn grid(headers: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells
            .enumerate()
            .map(|(i, c)| {
                if right.get(i).copied().unwrap_or(false) {
                    format!("{:>w$}", c, w = widths[i])
                } else {
                    format!("{:<w$}", c, w = widths[i])
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&mut headers.iter().copied()));
    for r in rows {
        let _ = writeln!(out, "{}", line(&mut r.iter().map(|s| s.as_str())));
    }
    out
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
    let several_scenarios = run
        .cells
        .iter()
        .any(|c| c.scenario != run.cells[0].scenario);
    // The strategy, and the scenario when a run has several (the bench).
    let strategy_label = |c: &crate::results::CellResult| {
        if several_scenarios {
            format!("{} ({})", c.strategy, c.scenario)
        } else {
            c.strategy.clone()
        }
    };
    let rows: Vec<Vec<String>> = run
        .cells
        .iter()
        .map(|c| {
            vec![
                short_version(&c.pg_version).to_string(),
                strategy_label(c),
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
    let right: Vec<bool> = (0..headers.len()).map(|i| i >= 3).collect();
    let mut out = grid(&headers, &rows, &right);
    for c in &run.cells {
        let who = format!(
            "{} {} {} workers={}",
            short_version(&c.pg_version),
            c.strategy,
            c.index,
            c.workers
        );
        for n in &c.notes {
            let _ = writeln!(out, "note: {who}: {n}");
        }
        if !c.audit.states_add_up() {
            let _ = writeln!(
                out,
                "note: {who}: audit states do not add up to the {} items seeded",
                c.audit.seeded
            );
        }
    }
    let plan_rows: Vec<Vec<String>> = run
        .cells
        .iter()
        .flat_map(|c| {
            c.plans.iter().map(move |p| {
                vec![
                    short_version(&c.pg_version).to_string(),
                    strategy_label(c),
                    c.index.clone(),
                    c.workers.to_string(),
                    p.when.clone(),
                    p.summary.access(),
                    format!("{:.0}", p.summary.rows_removed_by_filter),
                    format!(
                        "{}/{}",
                        p.summary.shared_hit_blocks, p.summary.shared_read_blocks
                    ),
                    format!("{:.3}", p.summary.execution_ms),
                ]
            })
        })
        .collect();
    if !plan_rows.is_empty() {
        let _ = writeln!(
            out,
            "\nlease plans (EXPLAIN ANALYZE, BUFFERS of the lease statement, rolled back):"
        );
        let head = [
            "pg", "strategy", "index", "workers", "when", "access", "removed", "hit/read",
            "exec ms",
        ];
        let right = [false, false, false, true, false, false, true, true, true];
        out.push_str(&grid(&head, &plan_rows, &right));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_pads_and_aligns() {
        let g = grid(
            &["name", "n"],
            &[
                vec!["a".into(), "10".into()],
                vec!["long".into(), "7".into()],
            ],
            &[false, true],
        );
        assert_eq!(g, "name   n\na     10\nlong   7\n");
    }
}
