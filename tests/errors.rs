//! Bad input: one clear line on stderr, exit 2 for usage errors and 1 for
//! runtime failures, never a panic.

mod common;

use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(60);

fn run_args<'a>(extra: &[&'a str], out: &'a str) -> Vec<&'a str> {
    let mut v = vec![
        "run",
        "--duration",
        "1s",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn unreachable_server() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(
            &["--database-url", "postgres://nobody@127.0.0.1:1/db"],
            out.path().to_str().unwrap(),
        ),
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "cannot connect to nobody@127.0.0.1:1/db");
}

#[test]
fn malformed_url() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(&[], out.path().to_str().unwrap()),
        &[("DATABASE_URL", "postgres://u:hunter2@host:notaport/db")],
        T,
    );
    assert_one_line_error(&o, 2, "malformed database URL");
    assert!(
        !stderr(&o).contains("hunter2"),
        "password leaked: {}",
        stderr(&o)
    );
}

#[test]
fn no_postgres_binaries_lists_the_ways() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(&[], out.path().to_str().unwrap()),
        &[("LEASEBENCH_PG_DISCOVER", "0")],
        T,
    );
    assert_one_line_error(&o, 2, "no Postgres server binaries found");
    let e = stderr(&o);
    assert!(
        e.contains("postgresql")
            && e.contains("DATABASE_URL")
            && e.contains("--features containers"),
        "{e}"
    );
}

#[test]
fn unknown_version() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(&["--pg", "11"], out.path().to_str().unwrap()),
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "no Postgres 11 found");
}

#[test]
fn missing_pg_bin_dir() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(
            &["--pg-bin", "/nonexistent/pg/bin"],
            out.path().to_str().unwrap(),
        ),
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "--pg-bin /nonexistent/pg/bin: no such directory");
}

#[test]
fn zero_workers() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &[
            "run",
            "--workers",
            "0",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "at least 1");
}

#[test]
fn unparsable_duration_and_workers() {
    let o = run_cli(&["run", "--duration", "five"], &[], T);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a duration"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    let o = run_cli(&["run", "--workers", "1,x"], &[], T);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--workers"), "{}", stderr(&o));
}

#[test]
fn unwritable_out_dir() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = file.path().join("sub");
    let o = run_cli(&run_args(&[], out.to_str().unwrap()), &[], T);
    assert_one_line_error(&o, 2, "cannot write there");
}

#[test]
fn unknown_strategy_and_bad_strategy_file() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &run_args(&["--strategy", "nope"], out.path().to_str().unwrap()),
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "unknown strategy \"nope\"");
    let bad = out.path().join("bad.sql");
    std::fs::write(&bad, "-- @lease\nSELECT 1;\n").unwrap();
    let o = run_cli(
        &run_args(
            &["--strategy-file", bad.to_str().unwrap()],
            out.path().to_str().unwrap(),
        ),
        &[],
        T,
    );
    assert_one_line_error(&o, 2, "bad.sql");
    assert!(stderr(&o).contains("safe"), "{}", stderr(&o));
}

#[test]
fn bad_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lb.toml");
    std::fs::write(&cfg, "wrokers = [1]\n").unwrap();
    let o = run_cli(&["run", "--config", cfg.to_str().unwrap()], &[], T);
    assert_one_line_error(&o, 2, "lb.toml");
    assert!(stderr(&o).contains("wrokers"));
}
