//! Lease expiry and fault injection, on a real throwaway cluster: after
//! each fault every item is completed exactly once or still available.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::{CellResult, RunResult};

const T: Duration = Duration::from_secs(180);

fn run_ok(extra: &[&str]) -> RunResult {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--workers",
        "20",
        "--no-progress",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run_cli(&args, &[], T);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    for d in announced_cluster_dirs(&stderr(&o)) {
        assert_cleaned_up(&d);
    }
    RunResult::load(&out.path().join("latest.json")).unwrap()
}

fn assert_exactly_once(c: &CellResult) {
    let a = &c.audit;
    assert_eq!(a.lost, 0, "lost: {:?}", a);
    assert_eq!(a.double_leased, 0, "double: {:?}", a);
    assert!(a.states_add_up(), "{a:?}");
    // Nothing completed twice in the table's eyes: completions seen by
    // workers never exceed the rows completed.
    assert!(a.completed_by_workers <= a.final_completed, "{a:?}");
}

#[test]
fn abandoned_leases_expire_and_are_leased_again() {
    let run = run_ok(&[
        "--items",
        "300",
        "--lease-ms",
        "500",
        "--chaos",
        "abandon=20",
    ]);
    let c = &run.cells[0];
    assert_exactly_once(c);
    assert!(c.chaos.abandoned > 0, "{:?}", c.chaos);
    assert!(c.audit.re_leased > 0, "{:?}", c.audit);
    assert!(c.chaos.rescued > 0, "{:?}", c.chaos);
    assert_eq!(
        c.audit.final_completed, 300,
        "every item done once: {:?}",
        c.audit
    );
    assert_eq!(c.completed, 300);
}

#[test]
fn killed_workers_reconnect_and_nothing_is_lost() {
    let run = run_ok(&["--duration", "3s", "--lease-ms", "500", "--chaos", "kill=5"]);
    let c = &run.cells[0];
    assert_exactly_once(c);
    assert_eq!(c.chaos.killed, 5, "{:?}", c.chaos);
    assert!(c.chaos.reconnects >= 5, "{:?}", c.chaos);
    assert!(
        c.errors.get("admin_shutdown").copied().unwrap_or(0) >= 1,
        "{:?}",
        c.errors
    );
    assert!(c.completed > 0);
}

#[test]
fn server_restart_mid_cell_loses_nothing() {
    let run = run_ok(&[
        "--items",
        "2000",
        "--lease-ms",
        "500",
        "--work-ms",
        "2",
        "--chaos",
        "restart",
    ]);
    let c = &run.cells[0];
    assert_exactly_once(c);
    assert_eq!(c.chaos.restarts, 1, "{:?}", c.chaos);
    assert!(c.chaos.reconnects > 0);
    assert_eq!(c.audit.final_completed, 2000, "{:?} {:?}", c.audit, c.notes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_is_refused_on_a_users_server() {
    let c = cluster(40).await;
    let url = url_with_secret(&c, "pw");
    let o = tokio::task::spawn_blocking(move || {
        run_cli(
            &[
                "run",
                "--workers",
                "2",
                "--duration",
                "1s",
                "--chaos",
                "restart",
            ],
            &[("DATABASE_URL", &url)],
            T,
        )
    })
    .await
    .unwrap();
    assert_one_line_error(&o, 2, "--chaos restart restarts only a throwaway cluster");
    c.stop().unwrap();
}
