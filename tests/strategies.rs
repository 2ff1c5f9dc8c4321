//! Every strategy in the catalogue that claims to be safe, run for real:
//! exactly-once at 50 workers, no errors, and the audit adds up.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::RunResult;
use leasebench::strategy::Catalogue;

/// The built-in strategies marked `safe: true`, by name.
fn safe_strategies() -> Vec<String> {
    let cat = Catalogue::load(&[], &[]).expect("built-in catalogue");
    cat.strategies
        .values()
        .filter(|s| s.safe)
        .map(|s| s.name.clone())
        .collect()
}

/// Every safe strategy at 50 workers for a second, all in one run (one
/// throwaway cluster): no item lost, none handed to two workers at once,
/// some completed, every seeded item in exactly one final state, no errors.
#[test]
fn every_safe_strategy_is_exactly_once_at_50_workers() {
    let safe = safe_strategies();
    assert!(
        safe.len() >= 10,
        "expected the peer presets in the catalogue, got {safe:?}"
    );
    let out = tempfile::tempdir().unwrap();
    let list = safe.join(",");
    let o = run_cli(
        &[
            "run",
            "--strategy",
            &list,
            "--workers",
            "50",
            "--duration",
            "1s",
            "--no-progress",
            "--quiet",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(240),
    );
    let (so, se) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "stdout: {so}\nstderr: {se}");
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    assert!(!run.partial);
    let mut ran: Vec<String> = run.cells.iter().map(|c| c.strategy.clone()).collect();
    ran.sort();
    assert_eq!(ran, safe, "one cell per safe strategy");
    for cell in &run.cells {
        let name = &cell.strategy;
        let a = &cell.audit;
        assert_eq!(cell.workers, 50, "{name}");
        assert_eq!(a.lost, 0, "{name}: lost items {:?}", a.examples_lost);
        assert_eq!(
            a.double_leased, 0,
            "{name}: double-leased items {:?}",
            a.examples_double_leased
        );
        assert!(
            cell.completed > 0,
            "{name}: nothing completed; notes {:?}",
            cell.notes
        );
        assert!(
            a.states_add_up(),
            "{name}: final states do not add up: {a:?}"
        );
        assert_eq!(
            cell.errors_total, 0,
            "{name}: errors {:?}; notes {:?}",
            cell.errors, cell.notes
        );
        // Each completion the workers saw is one item done in the table
        // (completed, or gone where completion or the lease deletes).
        assert!(
            a.final_completed + a.final_missing >= cell.completed,
            "{name}: workers completed {} but the table shows {} completed, {} gone",
            cell.completed,
            a.final_completed,
            a.final_missing
        );
    }
}

/// `leasebench strategies` tells the unsafe shape apart, and agrees with
/// the catalogue on every other strategy.
#[test]
fn strategies_lists_select_update_autocommit_as_unsafe() {
    let o = run_cli(&["strategies"], &[], Duration::from_secs(30));
    assert!(o.status.success(), "{}", stderr(&o));
    let so = stdout(&o);
    let traits_of = |name: &str| -> String {
        let line = so
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{so}"));
        line.split_whitespace().nth(1).unwrap_or("").to_string()
    };
    let unsafe_traits = traits_of("select_update_autocommit");
    assert!(
        unsafe_traits.split(',').any(|t| t == "UNSAFE"),
        "select_update_autocommit listed as {unsafe_traits:?}:\n{so}"
    );
    for name in safe_strategies() {
        let traits = traits_of(&name);
        assert!(
            traits.split(',').any(|t| t == "safe"),
            "{name} listed as {traits:?}"
        );
    }
}
