//! Lease expiry and fault injection, on a real throwaway cluster: after
//! each fault every item is completed exactly once or still available.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::CellResult;

const T: Duration = Duration::from_secs(180);

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
    let (run, _) = run_ok(&[
        "--workers",
        "20",
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
    let (run, _) = run_ok(&[
        "--workers",
        "20",
        "--duration",
        "3s",
        "--lease-ms",
        "500",
        "--chaos",
        "kill=5",
    ]);
    let c = &run.cells[0];
    assert_exactly_once(c);
    assert_eq!(c.chaos.killed, 5, "{:?}", c.chaos);
    assert!(c.chaos.reconnects >= 5, "{:?}", c.chaos);
    // A backend terminated mid-statement answers 57P01 (admin_shutdown);
    // one terminated while idle just closes (connection_lost).
    let seen = |k: &str| c.errors.get(k).copied().unwrap_or(0);
    assert!(
        seen("admin_shutdown") + seen("connection_lost") >= 5,
        "{:?}",
        c.errors
    );
    assert_eq!(
        c.errors.len(),
        c.errors
            .keys()
            .filter(|k| *k == "admin_shutdown" || *k == "connection_lost")
            .count(),
        "{:?}",
        c.errors
    );
    assert!(c.completed > 0);
}

#[test]
fn server_restart_mid_cell_loses_nothing() {
    let (run, _) = run_ok(&[
        "--workers",
        "20",
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

/// The server dies for good mid-cell (its postmaster is SIGKILLed): the run
/// stops with a clear message and exit 1, saves what the workers measured
/// (marked partial), and leaves nothing behind.
#[test]
fn a_server_that_dies_stops_the_run_and_saves_what_was_measured() {
    let out = tempfile::tempdir().unwrap();
    let run = start_run_until_leasing(&["--workers", "4,8", "--duration", "4s"], out.path());
    let pid_file = std::fs::read_to_string(run.dir.join("data/postmaster.pid")).unwrap();
    let pid: i32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let dir = run.dir.clone();
    let (status, rest) = run.finish();
    assert_eq!(status.code(), Some(1), "{rest}");
    let last = rest.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("leasebench: error: the server went away"),
        "{rest}"
    );
    assert!(!rest.contains("panicked"), "{rest}");
    assert_cleaned_up(&dir);
    let run = leasebench::results::RunResult::load(&out.path().join("latest.json")).unwrap();
    assert!(run.partial);
    assert_eq!(run.cells.len(), 1, "only the first cell ran");
    let c = &run.cells[0];
    assert!(c.partial && c.leased > 0, "{c:?}");
    assert!(
        c.notes.iter().any(|n| n.contains("could not be reached")),
        "{:?}",
        c.notes
    );
    assert!(c.errors_total > 0);
}
