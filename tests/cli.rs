//! The binary end to end, as a new user runs it, on a real throwaway cluster.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::{RunResult, CSV_COLUMNS};

#[test]
fn zero_setup_run_writes_table_json_csv_and_cleans_up() {
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &[
            "run",
            "--workers",
            "1,4",
            "--duration",
            "1s",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(120),
    );
    let (so, se) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "stdout: {so}\nstderr: {se}");
    // The table: header plus one row per worker count.
    let lines: Vec<&str> = so.lines().take_while(|l| !l.is_empty()).collect();
    assert!(so.contains("lease plans"), "{so}");
    assert!(
        lines[0].contains("leases/s") && lines[0].contains("p95 ms") && lines[0].contains("double")
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("update_returning"))
            .count(),
        2,
        "{so}"
    );
    // The files.
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    assert!(!run.partial);
    assert_eq!(run.cells.len(), 2);
    assert!(out.path().join(format!("{}.json", run.run_id)).exists());
    let csv_text = std::fs::read_to_string(out.path().join(format!("{}.csv", run.run_id))).unwrap();
    assert_eq!(
        csv_text,
        std::fs::read_to_string(out.path().join("latest.csv")).unwrap()
    );
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rd
        .headers()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(header, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for (cell, row) in run.cells.iter().zip(&rows) {
        assert_eq!(row[0], *cell.pg_version, "full pg_version in the CSV");
        assert!(cell.leased > 0 && cell.completed > 0, "{cell:?}");
        assert!(cell.throughput_per_s > 0.0 && cell.commits_per_s > 0.0);
        assert!(cell.lease.p50_ms > 0.0 && cell.lease.p50_ms <= cell.lease.p95_ms);
        assert!(cell.lease.p95_ms <= cell.lease.p99_ms && cell.lease.p99_ms <= cell.lease.max_ms);
        assert_eq!(cell.audit.lost, 0);
        assert_eq!(cell.audit.double_leased, 0);
        assert!(cell.audit.states_add_up());
        assert_eq!(cell.audit.final_completed, cell.completed);
        // Server side: commits counted, environment recorded.
        assert!(
            cell.server.commits as u64 >= cell.completed,
            "{:?}",
            cell.server
        );
        assert!(!cell.queue_ran_dry, "{:?}", cell.notes);
        if run.servers[0].server_version_num >= 150000 {
            // Server counters cover the cell only, not its seeding: the rows
            // inserted are the producer's (seeded minus the initial 10000).
            assert_eq!(
                cell.server.tup_inserted as u64,
                cell.audit.seeded - 10_000,
                "{:?}",
                cell.server
            );
            assert!(
                cell.server.live_tuples_end as u64 <= cell.audit.seeded,
                "{:?}",
                cell.server
            );
        }
        for m in ["lease", "complete", "cycle", "pickup_lag", "empty_lease"] {
            leasebench::metrics::decode(&cell.histograms[m]).unwrap();
        }
    }
    assert_eq!(run.servers.len(), 1);
    for s in [
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "max_connections",
    ] {
        assert!(run.servers[0].settings.contains_key(s), "{s} recorded");
    }
    assert!(run.environment.cpus > 0 && run.environment.memory_bytes > 0);
    assert!(!run.environment.git_revision.is_empty());
    // Nothing left running or on disk.
    let dirs = announced_cluster_dirs(&se);
    assert_eq!(dirs.len(), 1, "{se}");
    assert_cleaned_up(&dirs[0]);
}

#[test]
fn items_mode_processes_each_item_exactly_once() {
    let (run, _) = run_ok(&["--items", "400", "--workers", "1,10", "--work-ms", "5"]);
    for cell in &run.cells {
        assert_eq!(cell.completed, 400, "{:?}", cell.notes);
        assert_eq!(cell.audit.seeded, 400);
        assert_eq!(cell.audit.final_completed, 400);
        assert_eq!(cell.audit.completed_by_workers, 400);
        assert_eq!((cell.audit.lost, cell.audit.double_leased), (0, 0));
        // Simulated work shows in the cycle, not in the lease.
        assert!(cell.cycle.p50_ms >= 5.0, "cycle {:?}", cell.cycle);
        assert!(cell.lease.p50_ms < 5.0, "lease {:?}", cell.lease);
    }
}

#[test]
fn unsafe_strategy_double_leases_are_counted() {
    let (run, _) = run_ok(&[
        "--strategy",
        "select_update_autocommit",
        "--workers",
        "20",
        "--duration",
        "2s",
    ]);
    let cell = &run.cells[0];
    assert!(cell.audit.double_leased > 0, "{:?}", cell.audit);
    assert!(!cell.audit.examples_double_leased.is_empty());
}

#[test]
fn pg_list_shows_versions_and_bin_dirs() {
    let o = run_cli(&["pg", "list"], &[], Duration::from_secs(30));
    assert!(o.status.success(), "{}", stderr(&o));
    let so = stdout(&o);
    let newest = newest_install();
    assert!(so.contains(&newest.version.to_string()), "{so}");
    assert!(so.contains(&*newest.bin.to_string_lossy()), "{so}");
    assert!(so.contains("(default: newest)"));
}

#[test]
fn strategies_lists_the_catalogue() {
    let o = run_cli(&["strategies"], &[], Duration::from_secs(30));
    assert!(o.status.success());
    let so = stdout(&o);
    assert!(so.contains("update_returning") && so.contains("safe"));
    assert!(so.contains("select_update_autocommit") && so.contains("UNSAFE"));
    assert!(so.contains("pending_partial"));
}

/// `--pg 15,17` sweeps both versions in one run. CI installs 17 with
/// scripts/install-postgres.sh and sets LEASEBENCH_REQUIRE_PG17.
#[test]
fn cross_version_sweep() {
    let found = leasebench::pg::discover::discover(&[]).unwrap();
    let has = |m: u32| found.iter().any(|i| i.version.major == m);
    if !(has(15) && has(17)) {
        assert!(
            std::env::var("LEASEBENCH_REQUIRE_PG17").is_err(),
            "Postgres 15 and 17 required but found {:?}",
            found
                .iter()
                .map(|i| i.version.to_string())
                .collect::<Vec<_>>()
        );
        eprintln!("SKIPPED cross_version_sweep: needs Postgres 15 and 17 (scripts/install-postgres.sh 17)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let o = run_cli(
        &[
            "run",
            "--pg",
            "15,17",
            "--workers",
            "2",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(120),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    let versions: Vec<&str> = run.cells.iter().map(|c| c.pg_version.as_str()).collect();
    assert_eq!(versions.len(), 2);
    assert!(
        versions[0].starts_with("15.") && versions[1].starts_with("17."),
        "{versions:?}"
    );
    let csv = std::fs::read_to_string(out.path().join("latest.csv")).unwrap();
    assert!(csv.contains(&run.cells[0].pg_version) && csv.contains(&run.cells[1].pg_version));
    for d in announced_cluster_dirs(&stderr(&o)) {
        assert_cleaned_up(&d);
    }
}

/// `--rate`: open-loop pacing holds the asked rate, and latency is timed
/// from each lease's intended start (so it can only be >= service time).
#[test]
fn open_loop_rate_is_held() {
    let (run, _) = run_ok(&["--rate", "200", "--workers", "4", "--duration", "2s"]);
    let c = &run.cells[0];
    assert!(
        (150.0..=210.0).contains(&c.throughput_per_s),
        "paced at 200/s, got {}",
        c.throughput_per_s
    );
    assert!(matches!(c.pacing, leasebench::config::Pacing::Open { .. }));
}
