//! `leasebench compare`: line up matching cells of several results, with
//! ratios, and the series for overlay plots.
//!
//! The first file is the baseline, `A`; every other file (`B`, `C`, ...)
//! is compared with it. Cells match on [`CellKey`] (scenario, strategy,
//! index, workers, work) under a pairing of Postgres versions
//! ([`pair_versions`]):
//!
//! - versions both files hold are compared with themselves (a before/after
//!   run on the same server);
//! - when the files hold no version in common, their versions are paired
//!   oldest with oldest (a PG 15 run against a PG 17 run compares 15 -> 17).
//!
//! A file that holds several versions (`--pg 15,17`) is also compared
//! within itself: its oldest version against each newer one.
//!
//! Cells that match nothing are listed (`only in A: ...`), never dropped.
//! Ratios are B/A; a p95 more than 10% worse is flagged.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::results::{CellResult, RunResult};

/// p95 ratio (B/A) above which a row is flagged as worse.
pub const P95_WORSE_RATIO: f64 = 1.10;

/// What cells match on; the Postgres version is handled by [`pair_versions`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    pub scenario: String,
    pub strategy: String,
    pub index: String,
    pub workers: u32,
    pub work_ms: u64,
}

impl CellKey {
    pub fn of(c: &CellResult) -> CellKey {
        CellKey {
            scenario: c.scenario.clone(),
            strategy: c.strategy.clone(),
            index: c.index.clone(),
            workers: c.workers,
            work_ms: c.work_ms,
        }
    }
}

impl std::fmt::Display for CellKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} w={}",
            self.scenario, self.strategy, self.index, self.workers
        )?;
        if self.work_ms > 0 {
            write!(f, " work={}ms", self.work_ms)?;
        }
        Ok(())
    }
}

/// `15.18` from `15.18 (Debian 15.18-0+deb12u1)`.
pub fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

/// Sorts `9.6` before `13.2` before `13.10`.
fn version_order(v: &str) -> (Vec<u64>, String) {
    let nums = v
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums, v.to_string())
}

/// The distinct short Postgres versions of a run's cells, oldest first.
pub fn versions(run: &RunResult) -> Vec<String> {
    let mut v: Vec<String> = run
        .cells
        .iter()
        .map(|c| short_version(&c.pg_version).to_string())
        .collect();
    v.sort_by_key(|x| version_order(x));
    v.dedup();
    v
}

/// Which version of A is compared with which version of B: the versions
/// both hold, each with itself; if none is shared, oldest with oldest,
/// and so on. A version left without a partner matches nothing.
pub fn pair_versions(a: &[String], b: &[String]) -> Vec<(String, String)> {
    let common: Vec<(String, String)> = a
        .iter()
        .filter(|v| b.contains(v))
        .map(|v| (v.clone(), v.clone()))
        .collect();
    if !common.is_empty() {
        return common;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by_key(|x| version_order(x));
    b.sort_by_key(|x| version_order(x));
    a.into_iter().zip(b).collect()
}

/// Two cells that match.
#[derive(Debug, Clone)]
pub struct Pair<'a> {
    pub key: CellKey,
    pub a: &'a CellResult,
    pub b: &'a CellResult,
}

/// The matched cells of one version pair.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    pub a_version: String,
    pub b_version: String,
    pub pairs: Vec<Pair<'a>>,
}

/// The outcome of matching two sets of cells.
#[derive(Debug, Clone)]
pub struct Matching<'a> {
    pub sections: Vec<Section<'a>>,
    /// Cells of A that matched nothing, in A's order.
    pub only_a: Vec<&'a CellResult>,
    /// Cells of B that matched nothing, in B's order.
    pub only_b: Vec<&'a CellResult>,
}

/// Match `a` against `b` under `versions`. Each cell pairs at most once
/// per version pair (a duplicate key pairs with the next unused duplicate).
pub fn match_cells<'a>(
    a: &[&'a CellResult],
    b: &[&'a CellResult],
    versions: &[(String, String)],
) -> Matching<'a> {
    let mut matched_a = vec![false; a.len()];
    let mut matched_b = vec![false; b.len()];
    let mut sections = Vec::new();
    for (va, vb) in versions {
        let mut used_b = vec![false; b.len()];
        let mut pairs = Vec::new();
        for (i, ca) in a.iter().enumerate() {
            if short_version(&ca.pg_version) != va {
                continue;
            }
            let key = CellKey::of(ca);
            let found = b.iter().enumerate().position(|(j, cb)| {
                !used_b[j] && short_version(&cb.pg_version) == vb && CellKey::of(cb) == key
            });
            if let Some(j) = found {
                used_b[j] = true;
                matched_a[i] = true;
                matched_b[j] = true;
                pairs.push(Pair {
                    key,
                    a: ca,
                    b: b[j],
                });
            }
        }
        sections.push(Section {
            a_version: va.clone(),
            b_version: vb.clone(),
            pairs,
        });
    }
    let only = |cells: &[&'a CellResult], matched: &[bool]| {
        cells
            .iter()
            .zip(matched)
            .filter(|(_, m)| !**m)
            .map(|(c, _)| *c)
            .collect()
    };
    Matching {
        only_a: only(a, &matched_a),
        only_b: only(b, &matched_b),
        sections,
    }
}

/// Match the cells of two runs (versions paired by [`pair_versions`]).
pub fn match_runs<'a>(a: &'a RunResult, b: &'a RunResult) -> Matching<'a> {
    let pairs = pair_versions(&versions(a), &versions(b));
    let ca: Vec<&CellResult> = a.cells.iter().collect();
    let cb: Vec<&CellResult> = b.cells.iter().collect();
    match_cells(&ca, &cb, &pairs)
}

/// Within one run that holds several versions: its oldest version against
/// each newer one. `None` when the run holds fewer than two versions.
pub fn match_within(run: &RunResult) -> Option<Matching<'_>> {
    let vs = versions(run);
    let (oldest, newer) = vs.split_first()?;
    if newer.is_empty() {
        return None;
    }
    let a: Vec<&CellResult> = run
        .cells
        .iter()
        .filter(|c| short_version(&c.pg_version) == oldest)
        .collect();
    let b: Vec<&CellResult> = run
        .cells
        .iter()
        .filter(|c| short_version(&c.pg_version) != oldest)
        .collect();
    let pairs: Vec<(String, String)> = newer.iter().map(|v| (oldest.clone(), v.clone())).collect();
    Some(match_cells(&a, &b, &pairs))
}

/// B/A, when A is a positive finite number.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 && a.is_finite() && b.is_finite() => Some(b / a),
        _ => None,
    }
}

/// A latency of a cell, `None` when it measured no lease.
fn lease_ms(c: &CellResult, pick: fn(&crate::metrics::Summary) -> f64) -> Option<f64> {
    (c.lease.count > 0).then(|| pick(&c.lease))
}

/// The p95 ratio of a pair, when both sides measured leases.
pub fn p95_ratio(p: &Pair<'_>) -> Option<f64> {
    ratio(lease_ms(p.a, |s| s.p95_ms), lease_ms(p.b, |s| s.p95_ms))
}

/// Whether B's p95 is more than 10% worse than A's.
pub fn p95_worse(p: &Pair<'_>) -> bool {
    p95_ratio(p).is_some_and(|r| r > P95_WORSE_RATIO)
}

/// One line of an overlay plot: a file (and version) across worker counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayLine {
    /// `A 17.10 (2026-...-b5fa)`.
    pub label: String,
    /// (workers, lease p95 ms), ascending workers; cells with no lease left out.
    pub p95_ms: Vec<(u32, f64)>,
    /// (workers, leases per second), ascending workers.
    pub throughput_per_s: Vec<(u32, f64)>,
}

/// One overlay plot: a (scenario, strategy, index, work) group that at
/// least two lines (files, or versions within a file) hold.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayGroup {
    pub scenario: String,
    pub strategy: String,
    pub index: String,
    pub work_ms: u64,
    pub lines: Vec<OverlayLine>,
}

impl OverlayLine {
    /// (workers, p95 ms, leases/s) at each worker count that has a p95.
    pub fn points(&self) -> Vec<(u32, f64, f64)> {
        self.p95_ms
            .iter()
            .filter_map(|&(w, p)| {
                self.throughput_per_s
                    .iter()
                    .find(|(tw, _)| *tw == w)
                    .map(|&(_, t)| (w, p, t))
            })
            .collect()
    }
}

impl OverlayGroup {
    /// `run update_returning pending_partial` (+ ` work=100ms`).
    pub fn title(&self) -> String {
        let mut s = format!("{} {} {}", self.scenario, self.strategy, self.index);
        if self.work_ms > 0 {
            let _ = write!(s, " work={}ms", self.work_ms);
        }
        s
    }

    /// A file name stem: `compare-run-update_returning-pending_partial`
    /// (+ `-work100ms`); characters other than letters, digits, `_`, `-`
    /// become `_`.
    pub fn stem(&self) -> String {
        let mut s = format!("compare-{}-{}-{}", self.scenario, self.strategy, self.index);
        if self.work_ms > 0 {
            let _ = write!(s, "-work{}ms", self.work_ms);
        }
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// File labels: A, B, ... Z, then F27, F28, ...
pub fn file_label(i: usize) -> String {
    if i < 26 {
        ((b'A' + i as u8) as char).to_string()
    } else {
        format!("F{}", i + 1)
    }
}

/// The data for overlay plots of `runs` (the first is the baseline):
/// per group held by two or more (file, version) lines, each line's
/// lease p95 and throughput by worker count. Groups in order of first
/// appearance; lines in file order, versions oldest first.
pub fn overlay_series(runs: &[RunResult]) -> Vec<OverlayGroup> {
    type GroupKey = (String, String, String, u64);
    let gkey = |c: &CellResult| -> GroupKey {
        (
            c.scenario.clone(),
            c.strategy.clone(),
            c.index.clone(),
            c.work_ms,
        )
    };
    let mut keys: Vec<GroupKey> = Vec::new();
    for run in runs {
        for c in &run.cells {
            let k = gkey(c);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.into_iter()
        .filter_map(|k| {
            let mut lines = Vec::new();
            for (i, run) in runs.iter().enumerate() {
                for v in versions(run) {
                    let mut cells: Vec<&CellResult> = run
                        .cells
                        .iter()
                        .filter(|c| short_version(&c.pg_version) == v && gkey(c) == k)
                        .collect();
                    if cells.is_empty() {
                        continue;
                    }
                    cells.sort_by_key(|c| c.workers);
                    lines.push(OverlayLine {
                        label: format!("{} {v} ({})", file_label(i), run.run_id),
                        p95_ms: cells
                            .iter()
                            .filter_map(|c| lease_ms(c, |s| s.p95_ms).map(|p| (c.workers, p)))
                            .collect(),
                        throughput_per_s: cells
                            .iter()
                            .map(|c| (c.workers, c.throughput_per_s))
                            .collect(),
                    });
                }
            }
            (lines.len() >= 2).then_some(OverlayGroup {
                scenario: k.0,
                strategy: k.1,
                index: k.2,
                work_ms: k.3,
                lines,
            })
        })
        .collect()
}

/// Where overlay plots go: `--out`, else the first file's directory.
pub fn plot_dir(files: &[PathBuf], out: Option<&Path>) -> PathBuf {
    if let Some(o) = out {
        return o.to_path_buf();
    }
    files
        .first()
        .and_then(|f| f.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn fmt_opt(x: Option<f64>, places: usize) -> String {
    match x {
        Some(x) => format!("{x:.places$}"),
        None => "-".into(),
    }
}

/// Right-aligned columns after the first; the first left-aligned.
fn table(out: &mut String, headers: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{:<w$}", c, w = widths[i])
                } else {
                    format!("{:>w$}", c, w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(out, headers);
    for r in rows {
        line(out, r);
    }
}

fn cell_name(c: &CellResult) -> String {
    format!("{} {}", short_version(&c.pg_version), CellKey::of(c))
}

/// The tables of one matching. `a` / `b` name the sides in headers
/// (`A`, `B`; or versions within one file); `a_file` / `b_file` in the
/// unmatched lines.
fn render_matching(
    out: &mut String,
    title: &str,
    a: &str,
    b: &str,
    a_file: &str,
    b_file: &str,
    m: &Matching<'_>,
) {
    for s in &m.sections {
        let across = if s.a_version == s.b_version {
            String::new()
        } else {
            " (across versions)".into()
        };
        let _ = writeln!(
            out,
            "\n{title}, PG {} -> {}{across}, ratio = {b}/{a}, latency in ms: {} matched cell{}",
            s.a_version,
            s.b_version,
            s.pairs.len(),
            if s.pairs.len() == 1 { "" } else { "s" }
        );
        if s.pairs.is_empty() {
            continue;
        }
        let mut headers = vec!["cell".to_string()];
        for m in ["leases/s", "p50", "p95", "p99"] {
            headers.push(format!("{m} {a}"));
            headers.push(format!("{m} {b}"));
            headers.push("ratio".into());
        }
        headers.push(String::new());
        let rows: Vec<Vec<String>> = s
            .pairs
            .iter()
            .map(|p| {
                let mut r = vec![p.key.to_string()];
                let tput = (Some(p.a.throughput_per_s), Some(p.b.throughput_per_s));
                r.push(fmt_opt(tput.0, 1));
                r.push(fmt_opt(tput.1, 1));
                r.push(fmt_opt(ratio(tput.0, tput.1), 2));
                let picks: [fn(&crate::metrics::Summary) -> f64; 3] =
                    [|s| s.p50_ms, |s| s.p95_ms, |s| s.p99_ms];
                for pick in picks {
                    let (x, y) = (lease_ms(p.a, pick), lease_ms(p.b, pick));
                    r.push(fmt_opt(x, 3));
                    r.push(fmt_opt(y, 3));
                    r.push(fmt_opt(ratio(x, y), 2));
                }
                r.push(match p95_ratio(p) {
                    Some(x) if x > P95_WORSE_RATIO => {
                        format!("WORSE p95 +{:.0}%", (x - 1.0) * 100.0)
                    }
                    _ => String::new(),
                });
                r
            })
            .collect();
        table(out, &headers, &rows);
        for p in &s.pairs {
            for (side, c) in [(a, p.a), (b, p.b)] {
                if c.audit.lost > 0 || c.audit.double_leased > 0 {
                    let _ = writeln!(
                        out,
                        "note: {side} {}: lost {}, double_leased {}",
                        cell_name(c),
                        c.audit.lost,
                        c.audit.double_leased
                    );
                }
            }
        }
    }
    for c in &m.only_a {
        let _ = writeln!(out, "only in {a_file}: {}", cell_name(c));
    }
    for c in &m.only_b {
        let _ = writeln!(out, "only in {b_file}: {}", cell_name(c));
    }
}

/// Everything `compare` prints, for files in order (the first is the baseline).
pub fn render(inputs: &[(&Path, &RunResult)]) -> String {
    let mut out = String::new();
    for (i, (path, run)) in inputs.iter().enumerate() {
        let vs = versions(run);
        let _ = writeln!(
            out,
            "{} = {} (PG {}, {}){}  {}",
            file_label(i),
            run.run_id,
            if vs.is_empty() {
                "-".into()
            } else {
                vs.join(", ")
            },
            if run.cells.len() == 1 {
                "1 cell".to_string()
            } else {
                format!("{} cells", run.cells.len())
            },
            if run.partial { " [partial run]" } else { "" },
            path.display()
        );
    }
    let Some((_, base)) = inputs.first() else {
        return out;
    };
    for (i, (_, run)) in inputs.iter().enumerate().skip(1) {
        let b = file_label(i);
        let m = match_runs(base, run);
        render_matching(&mut out, &format!("A vs {b}"), "A", &b, "A", &b, &m);
    }
    for (i, (_, run)) in inputs.iter().enumerate() {
        if let Some(m) = match_within(run) {
            let f = file_label(i);
            let oldest = &m.sections[0].a_version;
            for s in &m.sections {
                let one = Matching {
                    sections: vec![s.clone()],
                    only_a: Vec::new(),
                    only_b: Vec::new(),
                };
                render_matching(
                    &mut out,
                    &format!("within {f}"),
                    oldest,
                    &s.b_version,
                    &f,
                    &f,
                    &one,
                );
            }
            for c in &m.only_a {
                let _ = writeln!(out, "only at {oldest} in {f}: {}", cell_name(c));
            }
            for c in &m.only_b {
                let _ = writeln!(out, "not at {oldest} in {f}: {}", cell_name(c));
            }
        }
    }
    out
}

/// `leasebench compare A.json B.json [...] [--out DIR]`.
pub fn cli(files: &[PathBuf], out: Option<&Path>) -> Result<i32> {
    if files.is_empty() {
        return Err(Error::usage(
            "compare: give results files (the first is the baseline)",
        ));
    }
    let runs = files
        .iter()
        .map(|f| RunResult::load(f))
        .collect::<Result<Vec<_>>>()?;
    let inputs: Vec<(&Path, &RunResult)> = files.iter().map(|f| f.as_path()).zip(&runs).collect();
    print!("{}", render(&inputs));
    let dir = plot_dir(files, out);
    for group in overlay_series(&runs) {
        let series: Vec<crate::report::plot::CompareSeries> = group
            .lines
            .iter()
            .map(|l| crate::report::plot::CompareSeries {
                label: l.label.clone(),
                points: l.points(),
            })
            .collect();
        for f in crate::report::plot::draw_compare(&series, &dir, &group.stem())? {
            println!("plot: {}", f.display());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::{cell, run_of};

    fn vs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn version_pairing() {
        let same = pair_versions(&vs(&["17.10"]), &vs(&["17.10"]));
        assert_eq!(same, [("17.10".into(), "17.10".into())]);
        let across = pair_versions(&vs(&["15.18"]), &vs(&["17.10"]));
        assert_eq!(across, [("15.18".into(), "17.10".into())]);
        // Shared versions win over pairing across.
        let shared = pair_versions(&vs(&["15.18", "17.10"]), &vs(&["17.10"]));
        assert_eq!(shared, [("17.10".into(), "17.10".into())]);
        // Disjoint, several: oldest with oldest (numeric order, not text).
        let many = pair_versions(&vs(&["13.23", "9.6"]), &vs(&["17.10", "15.18", "16.4"]));
        assert_eq!(
            many,
            [
                ("9.6".into(), "15.18".into()),
                ("13.23".into(), "16.4".into())
            ]
        );
        assert!(pair_versions(&[], &vs(&["17.10"])).is_empty());
    }

    #[test]
    fn versions_are_short_and_sorted() {
        let run = run_of(vec![
            cell("17.10", "run", "x", 1, 1.0, 2.0),
            cell("15.18 (Debian 15.18-0+deb12u1)", "run", "x", 1, 1.0, 2.0),
            cell("17.10", "run", "x", 4, 1.0, 2.0),
        ]);
        assert_eq!(versions(&run), ["15.18", "17.10"]);
    }

    #[test]
    fn matching_same_version_lists_unmatched_both_ways() {
        let a = run_of(vec![
            cell("17.10", "run", "pending_partial", 1, 0.5, 0.6),
            cell("17.10", "run", "pending_partial", 4, 0.8, 1.4),
        ]);
        let b = run_of(vec![
            cell("17.10", "run", "pending_partial", 1, 0.5, 0.9),
            cell("17.10", "run", "none", 1, 0.5, 0.6),
            cell("17.10", "run", "pending_partial", 2, 0.6, 1.0),
        ]);
        let m = match_runs(&a, &b);
        assert_eq!(m.sections.len(), 1);
        assert_eq!(m.sections[0].pairs.len(), 1);
        let p = &m.sections[0].pairs[0];
        assert_eq!(p.key.workers, 1);
        assert_eq!(p.key.index, "pending_partial");
        assert!((p95_ratio(p).unwrap() - 1.5).abs() < 1e-9);
        assert!(p95_worse(p));
        let only_a: Vec<u32> = m.only_a.iter().map(|c| c.workers).collect();
        assert_eq!(only_a, [4]);
        let only_b: Vec<(String, u32)> = m
            .only_b
            .iter()
            .map(|c| (c.index.clone(), c.workers))
            .collect();
        assert_eq!(only_b, [("none".into(), 1), ("pending_partial".into(), 2)]);
    }

    #[test]
    fn scenario_and_work_are_part_of_the_key() {
        let mut seed = cell("17.10", "seed", "x", 10, 1.0, 2.0);
        seed.work_ms = 100;
        let a = run_of(vec![
            seed.clone(),
            cell("17.10", "saturation", "x", 10, 1.0, 2.0),
        ]);
        let mut other_work = seed.clone();
        other_work.work_ms = 50;
        let b = run_of(vec![
            cell("17.10", "run", "x", 10, 1.0, 2.0),
            other_work,
            seed,
        ]);
        let m = match_runs(&a, &b);
        assert_eq!(m.sections[0].pairs.len(), 1);
        assert_eq!(m.sections[0].pairs[0].key.work_ms, 100);
        assert_eq!(m.only_a.len(), 1);
        assert_eq!(m.only_b.len(), 2);
    }

    #[test]
    fn matching_across_versions_and_leftover_versions() {
        let a = run_of(vec![cell("15.18", "run", "x", 1, 1.0, 2.0)]);
        let b = run_of(vec![
            cell("17.10", "run", "x", 1, 1.0, 1.0),
            cell("17.10", "run", "x", 8, 1.0, 1.0),
        ]);
        let m = match_runs(&a, &b);
        assert_eq!(m.sections[0].a_version, "15.18");
        assert_eq!(m.sections[0].b_version, "17.10");
        assert_eq!(m.sections[0].pairs.len(), 1);
        assert!(m.only_a.is_empty());
        assert_eq!(m.only_b.len(), 1);
        // B holds 15 and 17, A only 15: 15 with 15; B's 17 cells are unmatched.
        let b2 = run_of(vec![
            cell("15.18", "run", "x", 1, 1.0, 1.0),
            cell("17.10", "run", "x", 1, 1.0, 1.0),
        ]);
        let m = match_runs(&a, &b2);
        assert_eq!(m.sections.len(), 1);
        assert_eq!(m.sections[0].b_version, "15.18");
        assert_eq!(m.only_b.len(), 1);
        assert_eq!(short_version(&m.only_b[0].pg_version), "17.10");
    }

    #[test]
    fn duplicate_keys_pair_once_each() {
        let a = run_of(vec![
            cell("17.10", "run", "x", 1, 1.0, 1.0),
            cell("17.10", "run", "x", 1, 1.0, 2.0),
        ]);
        let b = run_of(vec![cell("17.10", "run", "x", 1, 1.0, 3.0)]);
        let m = match_runs(&a, &b);
        assert_eq!(m.sections[0].pairs.len(), 1);
        assert_eq!(m.sections[0].pairs[0].a.lease.p95_ms, 1.0);
        assert_eq!(m.only_a.len(), 1);
        assert!(m.only_b.is_empty());
    }

    #[test]
    fn within_one_file_oldest_against_each_newer() {
        let run = run_of(vec![
            cell("15.18", "run", "x", 1, 1.0, 2.0),
            cell("15.18", "run", "x", 4, 1.0, 2.0),
            cell("16.4", "run", "x", 1, 1.0, 2.0),
            cell("17.10", "run", "x", 1, 1.0, 1.0),
            cell("17.10", "run", "x", 4, 1.0, 1.0),
        ]);
        let m = match_within(&run).unwrap();
        let secs: Vec<(String, String, usize)> = m
            .sections
            .iter()
            .map(|s| (s.a_version.clone(), s.b_version.clone(), s.pairs.len()))
            .collect();
        assert_eq!(
            secs,
            [
                ("15.18".into(), "16.4".into(), 1),
                ("15.18".into(), "17.10".into(), 2)
            ]
        );
        assert!(m.only_a.is_empty() && m.only_b.is_empty());
        assert!(match_within(&run_of(vec![cell("17.10", "run", "x", 1, 1.0, 1.0)])).is_none());
        assert!(match_within(&run_of(vec![])).is_none());
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(2.0), Some(3.0)), Some(1.5));
        assert_eq!(ratio(Some(0.0), Some(3.0)), None);
        assert_eq!(ratio(None, Some(3.0)), None);
        assert_eq!(ratio(Some(2.0), None), None);
        assert_eq!(ratio(Some(2.0), Some(0.0)), Some(0.0));
        // Exactly 10% worse is not flagged; more is.
        let a = cell("17.10", "run", "x", 1, 1.0, 10.0);
        let b = cell("17.10", "run", "x", 1, 1.0, 11.0);
        let c = cell("17.10", "run", "x", 1, 1.0, 11.5);
        let key = CellKey::of(&a);
        assert!(!p95_worse(&Pair {
            key: key.clone(),
            a: &a,
            b: &b
        }));
        assert!(p95_worse(&Pair {
            key: key.clone(),
            a: &a,
            b: &c
        }));
        // A cell with no lease has no p95 to compare.
        let mut empty = a.clone();
        empty.lease = Default::default();
        assert_eq!(
            p95_ratio(&Pair {
                key,
                a: &empty,
                b: &c
            }),
            None
        );
    }

    #[test]
    fn render_shows_labels_ratios_marker_and_unmatched() {
        let mut a = run_of(vec![
            cell("17.10", "run", "pending_partial", 1, 0.5, 1.0),
            cell("17.10", "run", "pending_partial", 4, 0.8, 1.4),
        ]);
        a.run_id = "run-a".into();
        let mut b = run_of(vec![
            cell("17.10", "run", "pending_partial", 1, 0.5, 2.0),
            cell("17.10", "run", "none", 1, 0.5, 0.6),
        ]);
        b.run_id = "run-b".into();
        b.partial = true;
        b.cells[0].audit.double_leased = 7;
        let text = render(&[(Path::new("a.json"), &a), (Path::new("b.json"), &b)]);
        assert!(
            text.contains("A = run-a (PG 17.10, 2 cells)  a.json"),
            "{text}"
        );
        assert!(
            text.contains("B = run-b (PG 17.10, 2 cells) [partial run]  b.json"),
            "{text}"
        );
        assert!(
            text.contains("A vs B, PG 17.10 -> 17.10, ratio = B/A, latency in ms: 1 matched cell"),
            "{text}"
        );
        assert!(
            text.contains("p95 A") && text.contains("leases/s B"),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.starts_with("run update_returning pending_partial w=1"))
            .unwrap();
        assert!(
            row.contains("1000.0") && row.contains("2.00") && row.ends_with("WORSE p95 +100%"),
            "{row}"
        );
        assert!(
            text.contains(
                "note: B 17.10 run update_returning pending_partial w=1: lost 0, double_leased 7"
            ),
            "{text}"
        );
        assert!(
            text.contains("only in A: 17.10 run update_returning pending_partial w=4"),
            "{text}"
        );
        assert!(
            text.contains("only in B: 17.10 run update_returning none w=1"),
            "{text}"
        );
    }

    #[test]
    fn render_across_and_within() {
        let a = run_of(vec![cell("15.18", "run", "x", 1, 1.0, 2.0)]);
        let b = run_of(vec![
            cell("15.18", "run", "x", 1, 1.0, 2.0),
            cell("17.10", "run", "x", 1, 1.0, 1.0),
            cell("17.10", "run", "x", 2, 1.0, 1.0),
        ]);
        let c = run_of(vec![cell("17.10", "run", "x", 1, 1.0, 1.0)]);
        let text = render(&[
            (Path::new("a.json"), &a),
            (Path::new("b.json"), &b),
            (Path::new("c.json"), &c),
        ]);
        assert!(text.contains("A vs B, PG 15.18 -> 15.18"), "{text}");
        assert!(
            text.contains("A vs C, PG 15.18 -> 17.10 (across versions)"),
            "{text}"
        );
        assert!(text.contains("within B, PG 15.18 -> 17.10 (across versions), ratio = 17.10/15.18, latency in ms: 1 matched cell"), "{text}");
        assert!(text.contains("p95 15.18"), "{text}");
        assert!(
            text.contains("not at 15.18 in B: 17.10 run update_returning x w=2"),
            "{text}"
        );
        assert!(
            text.contains("only in B: 17.10 run update_returning x w=1"),
            "{text}"
        );
    }

    #[test]
    fn overlay_series_per_group_and_line() {
        let mut a = run_of(vec![
            cell("17.10", "run", "pending_partial", 4, 0.8, 1.4),
            cell("17.10", "run", "pending_partial", 1, 0.5, 0.6),
            cell("17.10", "run", "only_here", 1, 0.5, 0.6),
        ]);
        a.run_id = "ra".into();
        let mut b = run_of(vec![
            cell("15.18", "run", "pending_partial", 1, 0.5, 0.9),
            cell("17.10", "run", "pending_partial", 2, 0.6, 1.0),
        ]);
        b.run_id = "rb".into();
        b.cells[1].lease = Default::default();
        let s = overlay_series(&[a, b]);
        assert_eq!(s.len(), 1, "only_here is held by one line");
        let g = &s[0];
        assert_eq!(g.title(), "run update_returning pending_partial");
        let labels: Vec<&str> = g.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["A 17.10 (ra)", "B 15.18 (rb)", "B 17.10 (rb)"]);
        assert_eq!(g.lines[0].p95_ms, [(1, 0.6), (4, 1.4)]);
        assert_eq!(g.lines[0].throughput_per_s, [(1, 1000.0), (4, 4000.0)]);
        assert!(g.lines[2].p95_ms.is_empty(), "no lease, no p95 point");
        assert_eq!(g.lines[2].throughput_per_s, [(2, 2000.0)]);
        assert_eq!(g.lines[0].points(), [(1, 0.6, 1000.0), (4, 1.4, 4000.0)]);
        assert!(g.lines[2].points().is_empty());
        assert_eq!(g.stem(), "compare-run-update_returning-pending_partial");
        let odd = OverlayGroup {
            scenario: "seed".into(),
            strategy: "my strat/v2".into(),
            index: "i".into(),
            work_ms: 100,
            lines: Vec::new(),
        };
        assert_eq!(odd.stem(), "compare-seed-my_strat_v2-i-work100ms");
    }

    #[test]
    fn plot_dir_defaults_next_to_the_first_file() {
        let files = vec![PathBuf::from("results/a.json"), PathBuf::from("b.json")];
        assert_eq!(plot_dir(&files, None), PathBuf::from("results"));
        assert_eq!(plot_dir(&files[1..], None), PathBuf::from("."));
        assert_eq!(plot_dir(&files, Some(Path::new("o"))), PathBuf::from("o"));
    }

    #[test]
    fn file_labels() {
        assert_eq!(file_label(0), "A");
        assert_eq!(file_label(25), "Z");
        assert_eq!(file_label(26), "F27");
    }

    #[test]
    fn cli_needs_two_files_and_reports_bad_ones() {
        let e = cli(&[PathBuf::from("a.json")], None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "not json").unwrap();
        let e = cli(&[bad.clone(), bad], None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
