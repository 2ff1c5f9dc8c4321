//! Query plans and index variants on a real server: `none` scans the
//! table, `pending_partial` uses the partial index; a bad index file is a
//! clear error naming it.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::RunResult;

const T: Duration = Duration::from_secs(120);

#[test]
fn explain_shows_seq_scan_for_none_and_the_partial_index_for_pending_partial() {
    let o = run_cli(&["explain", "--index", "none,pending_partial"], &[], T);
    assert!(o.status.success(), "{}", stderr(&o));
    let so = stdout(&o);
    let (none, partial) = so
        .split_once("index pending_partial")
        .expect("both sections");
    assert!(none.contains("index none"), "{so}");
    assert!(none.contains("access: Seq Scan"), "{none}");
    assert!(
        none.contains("Seq Scan on due_work"),
        "full plan printed: {none}"
    );
    assert!(
        partial.contains("access: Index Scan using due_work_pending_partial"),
        "{partial}"
    );
    assert!(partial.contains("Execution Time"), "{partial}");
    let dirs = announced_cluster_dirs(&stderr(&o));
    assert_eq!(dirs.len(), 1, "{}", stderr(&o));
    assert_cleaned_up(&dirs[0]);
}

#[test]
fn run_records_plans_fresh_and_after_per_index_variant() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &[
            "run",
            "--index",
            "none,status_btree,pending_partial,pending_covering",
            "--workers",
            "4",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
        T,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("lease plans"), "{}", stdout(&o));
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    assert_eq!(run.cells.len(), 4);
    for c in &run.cells {
        let whens: Vec<&str> = c.plans.iter().map(|p| p.when.as_str()).collect();
        assert_eq!(whens, ["fresh", "after"], "{}", c.index);
        assert!(
            c.plans[0].plan[0]["Plan"].is_object(),
            "full JSON plan kept"
        );
        let access = c.plans[0].summary.access();
        match c.index.as_str() {
            "none" => assert!(access.starts_with("Seq Scan"), "{access}"),
            "pending_partial" => assert!(access.contains("due_work_pending_partial"), "{access}"),
            "pending_covering" => assert!(access.contains("due_work_pending_covering"), "{access}"),
            _ => {}
        }
        assert!(c.plans[0].summary.execution_ms > 0.0);
        assert!(c.plans[0].summary.shared_hit_blocks + c.plans[0].summary.shared_read_blocks > 0);
    }
    // A plan is captured in a rolled-back transaction: it consumes no work.
    for c in &run.cells {
        assert_eq!(c.audit.lost, 0);
        assert_eq!(c.audit.final_completed, c.completed, "{}", c.index);
    }
}

#[test]
fn user_index_file_is_applied_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("by_run_at.sql");
    std::fs::write(
        &good,
        "-- leasebench index: by_run_at\n-- summary: run_at only\nCREATE INDEX due_work_by_run_at ON due_work (run_at) WHERE status = 'pending';\n",
    )
    .unwrap();
    let bad = dir.path().join("broken.sql");
    std::fs::write(
        &bad,
        "-- leasebench index: broken\nCREATE INDEX oops ON due_work (no_such_column);\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_cli(
        &[
            "run",
            "--index-file",
            good.to_str().unwrap(),
            "--index",
            "by_run_at",
            "--workers",
            "2",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        T,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = RunResult::load(&out.join("latest.json")).unwrap();
    assert_eq!(run.cells[0].index, "by_run_at");
    let o = run_cli(
        &[
            "run",
            "--index-file",
            bad.to_str().unwrap(),
            "--index",
            "broken",
            "--workers",
            "2",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "broken.sql");
    assert!(stderr(&o).contains("no_such_column"), "{}", stderr(&o));
}
