//! `leasebench check` and `leasebench compare` on real results: the binary
//! runs short sweeps on throwaway clusters, then judges and compares them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use leasebench::results::RunResult;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const T: Duration = Duration::from_secs(60);

/// `leasebench run <args> --duration 1s --no-progress --out <dir>`; returns latest.json.
fn real_run(dir: &Path, args: &[&str]) -> PathBuf {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--no-progress", "--out", dir.to_str().unwrap()]);
    if !args.contains(&"--duration") {
        all.extend_from_slice(&["--duration", "1s"]);
    }
    let o = run_cli(&all, &[], RUN_LIMIT);
    assert!(o.status.success(), "run {args:?}: {}", stderr(&o));
    dir.join("latest.json")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The binary with `dir` as its current directory.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn leasebench")
}

#[test]
fn check_and_compare_real_runs() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two real sweeps at once: A = default index, workers 1,4;
    // B = both index variants, workers 1,2 (one cell matches A).
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| real_run(da.path(), &["--workers", "1,4"]));
        let b = sc.spawn(|| {
            real_run(
                db.path(),
                &["--workers", "1,2", "--index", "none,pending_partial"],
            )
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    let run_a = RunResult::load(&a).unwrap();
    let run_b = RunResult::load(&b).unwrap();
    let pg = run_a.cells[0].pg_version.split_whitespace().next().unwrap();

    // The shipped SLA: every rule holds on a healthy short run.
    let o = run_cli(&["check", s(&a)], &[], T);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{so}\n{}", stderr(&o));
    let pass = lines_starting(&so, "PASS  ");
    assert_eq!(pass.len(), 8, "4 rules x 2 cells: {so}");
    assert!(lines_starting(&so, "FAIL").is_empty(), "{so}");
    assert!(
        pass[1].starts_with(&format!(
            "PASS  {pg} update_returning pending_partial run w=1  lease p95 "
        )) && pass[1].ends_with(" ms < 50 ms"),
        "{so}"
    );
    assert!(so.contains("double_leased 0 <= 0"), "{so}");
    assert!(
        so.contains(&format!(
            "knee  {pg} update_returning pending_partial run  holds up to w=4, the largest tested"
        )),
        "{so}"
    );
    assert!(
        so.contains("check: PASS: all 8 checks hold on 2 cells"),
        "{so}"
    );
    assert!(!so.contains("PARTIAL"), "{so}");

    // A strict SLA: every latency fails, exit 1, measured value and limit on each line.
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, "[lease]\np95_ms = 0.001\n").unwrap();
    let o = run_cli(&["check", s(&a), "--sla", s(&strict)], &[], T);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{so}\n{}", stderr(&o));
    let fail = lines_starting(&so, "FAIL  ");
    assert_eq!(fail.len(), 2, "{so}");
    for l in fail {
        assert!(
            l.contains("lease p95 ") && l.ends_with(" ms >= 0.001 ms"),
            "{l}"
        );
    }
    assert!(
        so.contains("none: the smallest count tested, w=1, has "),
        "{so}"
    );
    assert!(
        so.contains("check: FAIL: 2 of 2 checks fail on 2 cells"),
        "{so}"
    );

    // A malformed SLA: exit 2, one line naming the file and the key.
    let bad = dir.path().join("bad-sla.toml");
    std::fs::write(&bad, "[lease]\np95_ms = \"fast\"\n").unwrap();
    let o = run_cli(&["check", s(&a), "--sla", s(&bad)], &[], T);
    assert_one_line_error(&o, 2, "bad-sla.toml");
    assert!(stderr(&o).contains("[lease] p95_ms"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    std::fs::write(&bad, "[lease]\np95_ms = 50\np96_ms = 50\n").unwrap();
    let o = run_cli(&["check", s(&a), "--sla", s(&bad)], &[], T);
    assert_one_line_error(&o, 2, "p96_ms");

    // No --sla: ./sla.toml when present, else the built-in copy.
    let o = run_in(dir.path(), &["check", s(&a)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("check: SLA built-in"), "{}", stdout(&o));
    std::fs::write(dir.path().join("sla.toml"), "[integrity]\nmax_lost = 0\n").unwrap();
    let o = run_in(dir.path(), &["check", s(&a)]);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{so}");
    assert!(so.contains("sla.toml: lost <= 0;"), "{so}");
    assert_eq!(lines_starting(&so, "PASS  ").len(), 2, "{so}");
    assert!(so.contains("no [lease] p95_ms rule"), "{so}");

    // compare A B: the one matching cell with ratios; the rest listed.
    let o = run_cli(&["compare", s(&a), s(&b)], &[], T);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{so}\n{}", stderr(&o));
    assert!(
        so.contains(&format!("A = {} (PG {pg}, 2 cells)", run_a.run_id)),
        "{so}"
    );
    assert!(
        so.contains(&format!("B = {} (PG {pg}, 4 cells)", run_b.run_id)),
        "{so}"
    );
    assert!(
        so.contains(&format!(
            "A vs B, PG {pg} -> {pg}, ratio = B/A, latency in ms: 1 matched cell"
        )),
        "{so}"
    );
    let row = so
        .lines()
        .find(|l| l.starts_with("run update_returning pending_partial w=1 "))
        .unwrap_or_else(|| panic!("{so}"));
    let ca = &run_a.cells[0];
    let cb = run_b
        .cells
        .iter()
        .find(|c| c.index == "pending_partial" && c.workers == 1)
        .unwrap();
    for want in [
        format!("{:.1}", ca.throughput_per_s),
        format!("{:.1}", cb.throughput_per_s),
        format!("{:.2}", cb.throughput_per_s / ca.throughput_per_s),
        format!("{:.3}", ca.lease.p95_ms),
        format!("{:.3}", cb.lease.p95_ms),
        format!("{:.2}", cb.lease.p95_ms / ca.lease.p95_ms),
    ] {
        assert!(row.contains(&want), "{want} not in {row}");
    }
    assert_eq!(
        row.contains("WORSE p95"),
        cb.lease.p95_ms / ca.lease.p95_ms > 1.10,
        "{row}"
    );
    for want in [
        format!("only in A: {pg} run update_returning pending_partial w=4"),
        format!("only in B: {pg} run update_returning none w=1"),
        format!("only in B: {pg} run update_returning none w=2"),
        format!("only in B: {pg} run update_returning pending_partial w=2"),
    ] {
        assert!(so.contains(&want), "{want:?} missing: {so}");
    }

    // Across versions: A against a copy of A that claims another version.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    for c in v["cells"].as_array_mut().unwrap() {
        c["pg_version"] = "99.1 (elsewhere)".into();
    }
    let other = dir.path().join("other-version.json");
    std::fs::write(&other, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = run_cli(&["compare", s(&a), s(&other)], &[], T);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{so}\n{}", stderr(&o));
    assert!(
        so.contains(&format!(
            "A vs B, PG {pg} -> 99.1 (across versions), ratio = B/A, latency in ms: 2 matched cells"
        )),
        "{so}"
    );
    assert!(!so.contains("only in"), "{so}");
    assert!(!so.contains("WORSE"), "{so}");

    // compare with a bad second file: exit 2, one line naming it.
    let o = run_cli(
        &["compare", s(&a), s(&dir.path().join("gone.json"))],
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "gone.json");
}

#[test]
fn check_fails_on_double_leases() {
    let d = tempfile::tempdir().unwrap();
    let r = real_run(
        d.path(),
        &[
            "--strategy",
            "select_update_autocommit",
            "--workers",
            "20",
            "--duration",
            "2s",
        ],
    );
    let run = RunResult::load(&r).unwrap();
    let doubles = run.cells[0].audit.double_leased;
    assert!(doubles > 0, "{:?}", run.cells[0].audit);
    let o = run_cli(&["check", s(&r)], &[], T);
    let so = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{so}\n{}", stderr(&o));
    let line = so
        .lines()
        .find(|l| l.starts_with("FAIL  ") && l.contains("double_leased"))
        .unwrap_or_else(|| panic!("{so}"));
    assert!(
        line.contains("select_update_autocommit") && line.contains("w=20"),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("double_leased {doubles} > 0")),
        "{line}"
    );
    assert!(so.contains("check: FAIL: "), "{so}");
}

#[test]
fn check_bad_result_files_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let o = run_cli(&["check", s(&missing)], &[], T);
    assert_one_line_error(&o, 2, "missing.json");

    let newer = dir.path().join("newer.json");
    std::fs::write(&newer, r#"{"schema_version": 999, "cells": []}"#).unwrap();
    let o = run_cli(&["check", s(&newer)], &[], T);
    assert_one_line_error(&o, 2, "newer");
    assert!(stderr(&o).contains("newer.json"));

    let text = dir.path().join("notes.json");
    std::fs::write(&text, "this is not JSON\n").unwrap();
    let o = run_cli(&["check", s(&text)], &[], T);
    assert_one_line_error(&o, 2, "notes.json");
    assert!(stderr(&o).contains("not valid JSON"), "{}", stderr(&o));

    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"hello": 1}"#).unwrap();
    let o = run_cli(&["check", s(&other)], &[], T);
    assert_one_line_error(&o, 2, "not a leasebench results file");

    // A missing --sla file is bad input too.
    let o = run_cli(
        &[
            "check",
            s(&text),
            "--sla",
            s(&dir.path().join("nosla.toml")),
        ],
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "nosla.toml");

    // compare: the same, for any of its files.
    let o = run_cli(&["compare", s(&newer), s(&text)], &[], T);
    assert_one_line_error(&o, 2, "newer");
}
