//! `leasebench check`: SLA rules from TOML -> a verdict per cell and rule
//! -> an exit code (0 all hold, 1 any fails, 2 bad input).
//!
//! The SLA file (DESIGN.md, "The SLA file"; the crate ships `sla.toml`):
//!
//! ```toml
//! [lease]                 # lease latency, ms; any of p50_ms, p95_ms, p99_ms, max_ms
//! p95_ms = 50.0
//! p50_ms = 25.0
//! [integrity]             # counts; any of max_lost, max_double_leased
//! max_lost = 0
//! max_double_leased = 0
//! [scope]                 # optional; default ["run", "seed"]
//! latency_scenarios = ["run", "seed"]
//! ```
//!
//! How the rules judge:
//!
//! - A latency rule holds when the measured value is below the limit
//!   (strictly, as the seed's "< 50ms (p95)"). It judges only cells whose
//!   `scenario` is in `[scope] latency_scenarios`; other cells (the bench's
//!   `saturation`) are reported as not judged.
//! - A cell that measured no lease at all fails its latency rules: nothing
//!   shows it meets them.
//! - An integrity rule holds when the count is at most the limit. It judges
//!   every cell.
//! - A result with nothing to judge (no cells, or no rule applies to any
//!   cell) fails: nothing shows the SLA holds.
//!
//! The knee of a group (Postgres version, strategy, index, scenario, work)
//! is the largest worker count at which lease p95 is below the p95 limit
//! *and* every smaller worker count tested is too: a count that dips back
//! under the limit after a failure does not extend it. Knees are reported,
//! they do not change the exit code.
//!
//! [`judge`] and [`knees`] are pure; [`cli`] reads the files and prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::results::{CellResult, RunResult};

/// The SLA shipped with the crate (the seed's targets).
pub const BUILTIN_SLA: &str = include_str!("../sla.toml");

/// Scenarios latency rules judge when `[scope] latency_scenarios` is absent.
pub const DEFAULT_LATENCY_SCENARIOS: [&str; 2] = ["run", "seed"];

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    LeaseP50,
    LeaseP95,
    LeaseP99,
    LeaseMax,
    Lost,
    DoubleLeased,
}

impl Metric {
    /// In the order rules are listed.
    pub const ALL: [Metric; 6] = [
        Metric::LeaseP50,
        Metric::LeaseP95,
        Metric::LeaseP99,
        Metric::LeaseMax,
        Metric::Lost,
        Metric::DoubleLeased,
    ];

    pub fn is_latency(self) -> bool {
        !matches!(self, Metric::Lost | Metric::DoubleLeased)
    }

    /// `[section] key` in the SLA file.
    pub fn toml_key(self) -> (&'static str, &'static str) {
        match self {
            Metric::LeaseP50 => ("lease", "p50_ms"),
            Metric::LeaseP95 => ("lease", "p95_ms"),
            Metric::LeaseP99 => ("lease", "p99_ms"),
            Metric::LeaseMax => ("lease", "max_ms"),
            Metric::Lost => ("integrity", "max_lost"),
            Metric::DoubleLeased => ("integrity", "max_double_leased"),
        }
    }

    /// How output lines name it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::LeaseP50 => "lease p50",
            Metric::LeaseP95 => "lease p95",
            Metric::LeaseP99 => "lease p99",
            Metric::LeaseMax => "lease max",
            Metric::Lost => "lost",
            Metric::DoubleLeased => "double_leased",
        }
    }

    /// The cell's value; `None` for a latency of a cell that measured no
    /// lease, or an integrity count of a cell whose audit could not run.
    pub fn measure(self, c: &CellResult) -> Option<f64> {
        if self.is_latency() && c.lease.count == 0 {
            return None;
        }
        if !self.is_latency() && !c.audit.audited {
            return None;
        }
        Some(match self {
            Metric::LeaseP50 => c.lease.p50_ms,
            Metric::LeaseP95 => c.lease.p95_ms,
            Metric::LeaseP99 => c.lease.p99_ms,
            Metric::LeaseMax => c.lease.max_ms,
            Metric::Lost => c.audit.lost as f64,
            Metric::DoubleLeased => c.audit.double_leased as f64,
        })
    }

    /// Whether `measured` meets `limit`.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        if self.is_latency() {
            measured < limit
        } else {
            measured <= limit
        }
    }
}

/// One rule: a metric and its limit (ms for latencies, a count otherwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub metric: Metric,
    pub limit: f64,
}

impl Rule {
    /// `lease p95 < 50 ms`, `lost <= 0`.
    pub fn describe(&self) -> String {
        if self.metric.is_latency() {
            format!("{} < {} ms", self.metric.name(), self.limit)
        } else {
            format!("{} <= {}", self.metric.name(), self.limit)
        }
    }
}

/// A parsed SLA file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    /// In [`Metric::ALL`] order, at most one per metric.
    pub rules: Vec<Rule>,
    /// Scenarios latency rules judge.
    pub latency_scenarios: Vec<String>,
}

impl Sla {
    /// Parse SLA TOML. The error is one line naming the key at fault.
    pub fn parse(text: &str) -> std::result::Result<Sla, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().replace('\n', " ");
            match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            }
        })?;
        let mut limits: Vec<(Metric, f64)> = Vec::new();
        let mut latency_scenarios: Option<Vec<String>> = None;
        for (section, value) in &table {
            let Some(t) = value.as_table() else {
                return Err(format!(
                    "`{section}` must be a section like [{section}], got {}",
                    describe(value)
                ));
            };
            match section.as_str() {
                "lease" | "integrity" => {
                    for (key, v) in t {
                        let metric = Metric::ALL
                            .into_iter()
                            .find(|m| m.toml_key() == (section.as_str(), key.as_str()))
                            .ok_or_else(|| {
                                let known: Vec<&str> = Metric::ALL
                                    .iter()
                                    .map(|m| m.toml_key())
                                    .filter(|(s, _)| s == section)
                                    .map(|(_, k)| k)
                                    .collect();
                                format!(
                                    "unknown key [{section}] {key}; expected {}",
                                    known.join(", ")
                                )
                            })?;
                        limits.push((metric, limit(metric, section, key, v)?));
                    }
                }
                "scope" => {
                    for (key, v) in t {
                        if key != "latency_scenarios" {
                            return Err(format!(
                                "unknown key [scope] {key}; expected latency_scenarios"
                            ));
                        }
                        let bad = || {
                            format!(
                                "[scope] latency_scenarios: expected an array of scenario names like [\"run\", \"seed\"], got {}",
                                describe(v)
                            )
                        };
                        let arr = v.as_array().ok_or_else(bad)?;
                        let names = arr
                            .iter()
                            .map(|s| s.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(bad)?;
                        latency_scenarios = Some(names);
                    }
                }
                other => {
                    return Err(format!(
                        "unknown section [{other}]; expected [lease], [integrity] or [scope]"
                    ))
                }
            }
        }
        if limits.is_empty() {
            return Err("no rules: give [lease] p50_ms, p95_ms, p99_ms or max_ms, or [integrity] max_lost or max_double_leased".into());
        }
        limits.sort_by_key(|(m, _)| *m);
        Ok(Sla {
            rules: limits
                .into_iter()
                .map(|(metric, limit)| Rule { metric, limit })
                .collect(),
            latency_scenarios: latency_scenarios.unwrap_or_else(|| {
                DEFAULT_LATENCY_SCENARIOS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        })
    }

    /// Read and parse an SLA file; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Sla> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file("cannot read SLA file", path, e))?;
        Sla::parse(&text).map_err(|msg| Error::file("invalid SLA file", path, msg))
    }

    /// The SLA shipped with the crate.
    pub fn builtin() -> Result<Sla> {
        Sla::parse(BUILTIN_SLA)
            .map_err(|msg| Error::Internal(format!("the built-in sla.toml is invalid: {msg}")))
    }

    /// The limit for `metric`, if the SLA has a rule for it.
    pub fn limit(&self, metric: Metric) -> Option<f64> {
        self.rules
            .iter()
            .find(|r| r.metric == metric)
            .map(|r| r.limit)
    }

    /// Whether latency rules judge cells of `scenario`.
    pub fn judges_latency_of(&self, scenario: &str) -> bool {
        self.latency_scenarios.iter().any(|s| s == scenario)
    }
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer {i}"),
        toml::Value::Float(f) => format!("float {f}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        other => other.type_str().to_string(),
    }
}

fn limit(
    metric: Metric,
    section: &str,
    key: &str,
    v: &toml::Value,
) -> std::result::Result<f64, String> {
    if metric.is_latency() {
        let x = match v {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => f64::NAN,
        };
        if x.is_finite() && x > 0.0 {
            return Ok(x);
        }
        Err(format!(
            "[{section}] {key}: expected a number of milliseconds greater than 0, got {}",
            describe(v)
        ))
    } else {
        match v {
            toml::Value::Integer(i) if *i >= 0 => Ok(*i as f64),
            _ => Err(format!(
                "[{section}] {key}: expected a whole number 0 or more, got {}",
                describe(v)
            )),
        }
    }
}

/// One rule applied to one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Index into `run.cells`.
    pub cell: usize,
    pub rule: Rule,
    /// `None`: a latency of a cell that measured no lease (fails).
    pub measured: Option<f64>,
    pub pass: bool,
}

/// Apply every rule to every cell it judges, cells in run order, rules in SLA order.
pub fn judge(run: &RunResult, sla: &Sla) -> Vec<Verdict> {
    let mut out = Vec::new();
    for (i, c) in run.cells.iter().enumerate() {
        for rule in &sla.rules {
            if rule.metric.is_latency() && !sla.judges_latency_of(&c.scenario) {
                continue;
            }
            let measured = rule.metric.measure(c);
            let pass = measured.is_some_and(|m| rule.metric.holds(m, rule.limit));
            out.push(Verdict {
                cell: i,
                rule: *rule,
                measured,
                pass,
            });
        }
    }
    out
}

/// 0 when every verdict holds and there is at least one, else 1.
pub fn exit_code(verdicts: &[Verdict]) -> i32 {
    if !verdicts.is_empty() && verdicts.iter().all(|v| v.pass) {
        0
    } else {
        1
    }
}

/// Cells the knee looks at together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Short Postgres version (`15.18`).
    pub pg: String,
    pub strategy: String,
    pub index: String,
    pub scenario: String,
    pub work_ms: u64,
}

impl Group {
    fn of(c: &CellResult) -> Group {
        Group {
            pg: short_version(&c.pg_version).to_string(),
            strategy: c.strategy.clone(),
            index: c.index.clone(),
            scenario: c.scenario.clone(),
            work_ms: c.work_ms,
        }
    }
}

/// Where a group's lease p95 stops meeting the limit.
#[derive(Debug, Clone, PartialEq)]
pub enum KneeAt {
    /// Every worker count tested is under the limit.
    AllHold { largest: u32 },
    /// Under the limit up to `holds_to`; `first_fail` is the next count tested.
    Upto {
        holds_to: u32,
        first_fail: u32,
        /// The p95 there (`None`: no lease measured).
        p95_ms: Option<f64>,
        /// Larger counts under the limit again (not counted).
        under_again: Vec<u32>,
    },
    /// Even the smallest worker count fails.
    None {
        smallest: u32,
        p95_ms: Option<f64>,
        under_again: Vec<u32>,
    },
}

/// The knee of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Knee {
    pub group: Group,
    pub at: KneeAt,
    /// Whether latency rules judge this group's scenario.
    pub judged: bool,
}

/// The knee of every group, groups in order of first appearance. Empty
/// when the SLA has no p95 rule.
pub fn knees(run: &RunResult, sla: &Sla) -> Vec<Knee> {
    let Some(limit) = sla.limit(Metric::LeaseP95) else {
        return Vec::new();
    };
    let mut groups: Vec<(Group, Vec<&CellResult>)> = Vec::new();
    for c in &run.cells {
        let g = Group::of(c);
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, cells)) => cells.push(c),
            None => groups.push((g, vec![c])),
        }
    }
    groups
        .into_iter()
        .map(|(group, cells)| {
            // Per worker count (ascending): the worst p95 of the cells there.
            let mut counts: Vec<u32> = cells.iter().map(|c| c.workers).collect();
            counts.sort_unstable();
            counts.dedup();
            let points: Vec<(u32, Option<f64>)> = counts
                .iter()
                .map(|&w| {
                    let p95s: Vec<Option<f64>> = cells
                        .iter()
                        .filter(|c| c.workers == w)
                        .map(|c| Metric::LeaseP95.measure(c))
                        .collect();
                    let worst = p95s
                        .iter()
                        .copied()
                        .collect::<Option<Vec<f64>>>()
                        .map(|v| v.into_iter().fold(f64::MIN, f64::max));
                    (w, worst)
                })
                .collect();
            let under = |p: Option<f64>| p.is_some_and(|x| x < limit);
            let first_fail = points.iter().position(|(_, p)| !under(*p));
            let at = match first_fail {
                None => KneeAt::AllHold {
                    largest: points.last().map(|p| p.0).unwrap_or(0),
                },
                Some(i) => {
                    let under_again = points[i + 1..]
                        .iter()
                        .filter(|(_, p)| under(*p))
                        .map(|(w, _)| *w)
                        .collect();
                    if i == 0 {
                        KneeAt::None {
                            smallest: points[0].0,
                            p95_ms: points[0].1,
                            under_again,
                        }
                    } else {
                        KneeAt::Upto {
                            holds_to: points[i - 1].0,
                            first_fail: points[i].0,
                            p95_ms: points[i].1,
                            under_again,
                        }
                    }
                }
            };
            Knee {
                judged: sla.judges_latency_of(&group.scenario),
                group,
                at,
            }
        })
        .collect()
}

/// `1 cell`, `2 cells`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

fn cell_label(c: &CellResult) -> String {
    let mut s = format!(
        "{} {} {} {} w={}",
        short_version(&c.pg_version),
        c.strategy,
        c.index,
        c.scenario,
        c.workers
    );
    if c.work_ms > 0 {
        let _ = write!(s, " work={}ms", c.work_ms);
    }
    if c.partial {
        s.push_str(" (partial cell)");
    }
    s
}

fn fmt_p95(p: Option<f64>) -> String {
    match p {
        Some(x) => format!("{x:.3} ms"),
        None => "no lease measured".into(),
    }
}

fn fmt_under_again(w: &[u32]) -> String {
    if w.is_empty() {
        return String::new();
    }
    let list: Vec<String> = w.iter().map(|w| format!("w={w}")).collect();
    format!(
        " ({} under again, not counted: every smaller count must hold too)",
        list.join(", ")
    )
}

/// The verdict lines for one verdict.
fn verdict_text(v: &Verdict) -> String {
    let m = v.rule.metric;
    let limit = v.rule.limit;
    match v.measured {
        None if m.is_latency() => format!(
            "{} not measured (no lease in this cell), limit < {limit} ms",
            m.name()
        ),
        None => format!(
            "{} unknown (the cell was not audited), limit <= {limit}",
            m.name()
        ),
        Some(x) if m.is_latency() => format!(
            "{} {x:.3} ms {} {limit} ms",
            m.name(),
            if v.pass { "<" } else { ">=" }
        ),
        Some(x) => format!(
            "{} {x} {} {limit}",
            m.name(),
            if v.pass { "<=" } else { ">" }
        ),
    }
}

/// Everything `check` prints, given what it judged.
pub fn render(
    run: &RunResult,
    result_path: &Path,
    sla: &Sla,
    sla_origin: &str,
    verdicts: &[Verdict],
    knees: &[Knee],
) -> String {
    let mut out = String::new();
    let mut versions: Vec<&str> = run
        .cells
        .iter()
        .map(|c| short_version(&c.pg_version))
        .collect();
    versions.dedup();
    versions.sort_unstable();
    versions.dedup();
    let _ = writeln!(
        out,
        "check: {} (run {}, PG {}, {})",
        result_path.display(),
        run.run_id,
        if versions.is_empty() {
            "-".to_string()
        } else {
            versions.join(", ")
        },
        plural(run.cells.len(), "cell")
    );
    let rules: Vec<String> = sla.rules.iter().map(Rule::describe).collect();
    let _ = writeln!(
        out,
        "check: SLA {sla_origin}: {}; latency rules judge scenarios: {}",
        rules.join(", "),
        if sla.latency_scenarios.is_empty() {
            "none".to_string()
        } else {
            sla.latency_scenarios.join(", ")
        }
    );
    if run.partial {
        let _ = writeln!(
            out,
            "PARTIAL RUN: {}; judging the {} that ran",
            run.stopped_because
                .as_deref()
                .unwrap_or("not every cell ran"),
            plural(run.cells.len(), "cell")
        );
    }

    let labels: Vec<String> = run.cells.iter().map(cell_label).collect();
    let width = verdicts
        .iter()
        .map(|v| labels[v.cell].len())
        .max()
        .unwrap_or(0);
    for v in verdicts {
        let _ = writeln!(
            out,
            "{}  {:<width$}  {}",
            if v.pass { "PASS" } else { "FAIL" },
            labels[v.cell],
            verdict_text(v)
        );
    }

    // Cells whose latency was not judged, by scenario.
    if sla.rules.iter().any(|r| r.metric.is_latency()) {
        let mut skipped: Vec<(&str, usize)> = Vec::new();
        for c in &run.cells {
            if !sla.judges_latency_of(&c.scenario) {
                match skipped.iter_mut().find(|(s, _)| *s == c.scenario) {
                    Some((_, n)) => *n += 1,
                    None => skipped.push((&c.scenario, 1)),
                }
            }
        }
        for (s, n) in skipped {
            let _ = writeln!(
                out,
                "note: {n} {s} cell(s): latency reported, not judged ([scope] latency_scenarios)"
            );
        }
    }

    match sla.limit(Metric::LeaseP95) {
        None => {
            let _ = writeln!(out, "knee: the SLA has no [lease] p95_ms rule; no knee");
        }
        Some(limit) if !knees.is_empty() => {
            let _ = writeln!(
                out,
                "knee: the largest worker count with lease p95 < {limit} ms there and at every smaller count tested"
            );
            let gl: Vec<String> = knees
                .iter()
                .map(|k| {
                    let g = &k.group;
                    let mut s = format!("{} {} {} {}", g.pg, g.strategy, g.index, g.scenario);
                    if g.work_ms > 0 {
                        let _ = write!(s, " work={}ms", g.work_ms);
                    }
                    s
                })
                .collect();
            let w = gl.iter().map(|s| s.len()).max().unwrap_or(0);
            for (k, label) in knees.iter().zip(&gl) {
                let text = match &k.at {
                    KneeAt::AllHold { largest } => {
                        format!("holds up to w={largest}, the largest tested")
                    }
                    KneeAt::Upto {
                        holds_to,
                        first_fail,
                        p95_ms,
                        under_again,
                    } => format!(
                        "holds up to w={holds_to}; w={first_fail} has {}{}",
                        fmt_p95(*p95_ms),
                        fmt_under_again(under_again)
                    ),
                    KneeAt::None {
                        smallest,
                        p95_ms,
                        under_again,
                    } => format!(
                        "none: the smallest count tested, w={smallest}, has {}{}",
                        fmt_p95(*p95_ms),
                        fmt_under_again(under_again)
                    ),
                };
                let _ = writeln!(
                    out,
                    "knee  {label:<w$}  {text}{}",
                    if k.judged { "" } else { " (not judged)" }
                );
            }
        }
        Some(_) => {}
    }

    let failed = verdicts.iter().filter(|v| !v.pass).count();
    let judged_cells = {
        let mut c: Vec<usize> = verdicts.iter().map(|v| v.cell).collect();
        c.dedup();
        c.len()
    };
    if verdicts.is_empty() {
        let _ = writeln!(
            out,
            "check: FAIL: nothing judged ({}); nothing shows the SLA holds",
            if run.cells.is_empty() {
                "the result has no cells"
            } else {
                "no rule applies to any cell"
            }
        );
    } else if failed == 0 {
        let _ = writeln!(
            out,
            "check: PASS: all {} hold on {}{}",
            plural(verdicts.len(), "check"),
            plural(judged_cells, "cell"),
            if run.partial { " (partial run)" } else { "" }
        );
    } else {
        let _ = writeln!(
            out,
            "check: FAIL: {failed} of {} fail on {}{}",
            plural(verdicts.len(), "check"),
            plural(judged_cells, "cell"),
            if run.partial { " (partial run)" } else { "" }
        );
    }
    out
}

/// The SLA `check` uses: `--sla FILE`, else `./sla.toml`, else the built-in copy.
/// Returns it with a description of where it came from.
pub fn resolve_sla(sla: Option<&Path>) -> Result<(Sla, String)> {
    if let Some(p) = sla {
        return Ok((Sla::load(p)?, p.display().to_string()));
    }
    let local = PathBuf::from("sla.toml");
    if local.is_file() {
        let shown = std::fs::canonicalize(&local).unwrap_or(local.clone());
        return Ok((Sla::load(&local)?, shown.display().to_string()));
    }
    Ok((Sla::builtin()?, "built-in (the seed's targets)".into()))
}

/// `leasebench check RESULT [--sla FILE]`: 0 all hold, 1 any fails; bad input is an Err (exit 2).
pub fn cli(result: &Path, sla: Option<&Path>) -> Result<i32> {
    let (sla, origin) = resolve_sla(sla)?;
    let run = RunResult::load(result)?;
    let verdicts = judge(&run, &sla);
    let knees = knees(&run, &sla);
    print!("{}", render(&run, result, &sla, &origin, &verdicts, &knees));
    Ok(exit_code(&verdicts))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::audit::Audit;
    use crate::config::{Config, Mode, Pacing};
    use crate::metrics::Summary;
    use crate::results::{Environment, SCHEMA_VERSION};

    /// A cell with the given key and lease p50/p95; everything else plausible.
    pub(crate) fn cell(
        pg: &str,
        scenario: &str,
        index: &str,
        workers: u32,
        p50: f64,
        p95: f64,
    ) -> CellResult {
        CellResult {
            scenario: scenario.into(),
            pg_version: pg.into(),
            strategy: "update_returning".into(),
            index: index.into(),
            workers,
            work_ms: 0,
            lease_ms: 300_000,
            batch: 10,
            mode: Mode::Duration(std::time::Duration::from_secs(1)),
            pacing: Pacing::Closed,
            duration_s: 1.0,
            leased: 1000,
            completed: 1000,
            lease_calls: 1000,
            throughput_per_s: 1000.0 * workers as f64,
            commits_per_s: 2000.0,
            empty_polls: 0,
            queue_ran_dry: false,
            errors: BTreeMap::new(),
            errors_total: 0,
            lease: Summary {
                count: 1000,
                mean_ms: p50,
                min_ms: p50 / 2.0,
                p50_ms: p50,
                p90_ms: p95,
                p95_ms: p95,
                p99_ms: p95 * 1.5,
                p999_ms: p95 * 2.0,
                max_ms: p95 * 3.0,
            },
            complete: Summary::default(),
            cycle: Summary::default(),
            pickup_lag: Summary::default(),
            empty_lease: Summary::default(),
            histograms: BTreeMap::new(),
            server: Default::default(),
            wait_events: BTreeMap::new(),
            wait_samples: 0,
            audit: Audit {
                audited: true,
                ..Audit::default()
            },
            plans: Vec::new(),
            notes: Vec::new(),
            chaos: Default::default(),
            stale_completions: 0,
            partial: false,
        }
    }

    pub(crate) fn run_of(cells: Vec<CellResult>) -> RunResult {
        RunResult {
            schema_version: SCHEMA_VERSION,
            run_id: "2026-01-01T000000Z-abcd".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:01:00Z".into(),
            wall_time_s: 60.0,
            partial: false,
            stopped_because: None,
            config: Config::default(),
            environment: Environment::default(),
            servers: Vec::new(),
            cells,
        }
    }

    fn seed_sla() -> Sla {
        Sla::builtin().unwrap()
    }

    #[test]
    fn builtin_sla_is_the_seeds_targets_and_unaudited_cells_fail_integrity() {
        let mut c = cell("17.10", "run", "pending_partial", 1, 1.0, 2.0);
        c.audit.audited = false;
        let v = judge(&run_of(vec![c]), &seed_sla());
        let lost = v.iter().find(|x| x.rule.metric == Metric::Lost).unwrap();
        assert!(!lost.pass && lost.measured.is_none());
        assert!(verdict_text(lost).contains("not audited"));
        assert_eq!(exit_code(&v), 1);
    }

    #[test]
    fn builtin_sla_is_the_seeds_targets() {
        let sla = seed_sla();
        assert_eq!(sla.limit(Metric::LeaseP95), Some(50.0));
        assert_eq!(sla.limit(Metric::LeaseP50), Some(25.0));
        assert_eq!(sla.limit(Metric::Lost), Some(0.0));
        assert_eq!(sla.limit(Metric::DoubleLeased), Some(0.0));
        assert_eq!(sla.limit(Metric::LeaseP99), None);
        assert_eq!(sla.latency_scenarios, ["run", "seed"]);
        // Listed in a fixed order, whatever the file's order.
        let order: Vec<Metric> = sla.rules.iter().map(|r| r.metric).collect();
        assert_eq!(
            order,
            [
                Metric::LeaseP50,
                Metric::LeaseP95,
                Metric::Lost,
                Metric::DoubleLeased
            ]
        );
    }

    #[test]
    fn optional_rules_integers_and_default_scope() {
        let sla = Sla::parse("[lease]\np99_ms = 80\nmax_ms = 200.5\n[integrity]\nmax_lost = 3\n")
            .unwrap();
        assert_eq!(sla.limit(Metric::LeaseP99), Some(80.0));
        assert_eq!(sla.limit(Metric::LeaseMax), Some(200.5));
        assert_eq!(sla.limit(Metric::Lost), Some(3.0));
        assert_eq!(sla.limit(Metric::LeaseP95), None);
        assert_eq!(sla.latency_scenarios, DEFAULT_LATENCY_SCENARIOS);
        let only =
            Sla::parse("[integrity]\nmax_double_leased = 0\n[scope]\nlatency_scenarios = []\n")
                .unwrap();
        assert!(only.latency_scenarios.is_empty());
    }

    #[test]
    fn bad_sla_files_name_the_key() {
        let cases = [
            ("[lease]\np96_ms = 50\n", "p96_ms"),
            ("[lease]\np95_ms = \"fast\"\n", "[lease] p95_ms"),
            ("[lease]\np95_ms = 0\n", "greater than 0"),
            ("[lease]\np95_ms = -5.0\n", "[lease] p95_ms"),
            ("[integrity]\nmax_lost = -1\n", "[integrity] max_lost"),
            ("[integrity]\nmax_lost = 0.5\n", "[integrity] max_lost"),
            ("[integrity]\nmax_dupes = 0\n", "max_dupes"),
            (
                "[scope]\nlatency_scenarios = \"run\"\n",
                "latency_scenarios",
            ),
            ("[scope]\nlatency_scenarios = [1]\n", "latency_scenarios"),
            ("[scope]\nscenarios = []\n", "[scope] scenarios"),
            ("[laetncy]\np95_ms = 1\n", "[laetncy]"),
            ("lease = 5\n", "lease"),
            ("[lease\np95_ms = 1\n", "line 1"),
            ("", "no rules"),
            ("[scope]\nlatency_scenarios = [\"run\"]\n", "no rules"),
        ];
        for (text, needle) in cases {
            let err = Sla::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err:?} lacks {needle:?}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn load_errors_name_the_file_and_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, "[lease]\np95 = 1\n").unwrap();
        let e = Sla::load(&p).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let chain = crate::run::error_chain(&e);
        assert!(
            chain.contains("mine.toml") && chain.contains("p95"),
            "{chain}"
        );
        let e = Sla::load(&dir.path().join("absent.toml")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(crate::run::error_chain(&e).contains("absent.toml"));
    }

    #[test]
    fn latency_rules_are_strict_integrity_rules_inclusive() {
        let mut ok = cell("15.18", "run", "pending_partial", 1, 10.0, 49.9);
        ok.audit.lost = 0;
        let mut at_limit = cell("15.18", "run", "pending_partial", 2, 10.0, 50.0);
        at_limit.audit.double_leased = 1337;
        let run = run_of(vec![ok, at_limit]);
        let v = judge(&run, &seed_sla());
        assert_eq!(v.len(), 8, "4 rules x 2 cells");
        let find = |cell: usize, m: Metric| {
            v.iter()
                .find(|x| x.cell == cell && x.rule.metric == m)
                .unwrap()
        };
        assert!(find(0, Metric::LeaseP95).pass);
        assert!(find(0, Metric::Lost).pass);
        assert!(!find(1, Metric::LeaseP95).pass, "50.0 is not < 50");
        assert!(!find(1, Metric::DoubleLeased).pass);
        assert_eq!(find(1, Metric::DoubleLeased).measured, Some(1337.0));
        assert!(find(1, Metric::Lost).pass);
        assert_eq!(exit_code(&v), 1);
        assert_eq!(
            verdict_text(find(0, Metric::LeaseP95)),
            "lease p95 49.900 ms < 50 ms"
        );
        assert_eq!(
            verdict_text(find(1, Metric::LeaseP95)),
            "lease p95 50.000 ms >= 50 ms"
        );
        assert_eq!(
            verdict_text(find(1, Metric::DoubleLeased)),
            "double_leased 1337 > 0"
        );
        assert_eq!(verdict_text(find(1, Metric::Lost)), "lost 0 <= 0");
    }

    #[test]
    fn scope_limits_latency_rules_not_integrity() {
        let mut sat = cell("17.10", "saturation", "pending_partial", 100, 300.0, 900.0);
        sat.audit.lost = 2;
        let seed = cell("17.10", "seed", "pending_partial", 50, 1.0, 2.0);
        let run = run_of(vec![sat, seed]);
        let v = judge(&run, &seed_sla());
        let sat_rules: Vec<Metric> = v
            .iter()
            .filter(|x| x.cell == 0)
            .map(|x| x.rule.metric)
            .collect();
        assert_eq!(sat_rules, [Metric::Lost, Metric::DoubleLeased]);
        assert!(
            !v.iter()
                .find(|x| x.cell == 0 && x.rule.metric == Metric::Lost)
                .unwrap()
                .pass
        );
        assert_eq!(v.iter().filter(|x| x.cell == 1).count(), 4);
        assert_eq!(exit_code(&v), 1);
        let text = render(
            &run,
            Path::new("r.json"),
            &seed_sla(),
            "test",
            &v,
            &knees(&run, &seed_sla()),
        );
        assert!(
            text.contains("note: 1 saturation cell(s): latency reported, not judged"),
            "{text}"
        );
        assert!(text.contains("(not judged)"), "{text}");
    }

    #[test]
    fn a_cell_without_leases_fails_latency() {
        let mut empty = cell("15.18", "run", "none", 1, 0.0, 0.0);
        empty.lease = Summary::default();
        let run = run_of(vec![empty]);
        let v = judge(&run, &seed_sla());
        let p95 = v
            .iter()
            .find(|x| x.rule.metric == Metric::LeaseP95)
            .unwrap();
        assert_eq!(p95.measured, None);
        assert!(!p95.pass);
        assert!(verdict_text(p95).contains("not measured"));
        assert_eq!(exit_code(&v), 1);
    }

    #[test]
    fn nothing_to_judge_fails() {
        let run = run_of(vec![]);
        let v = judge(&run, &seed_sla());
        assert!(v.is_empty());
        assert_eq!(exit_code(&v), 1);
        let text = render(&run, Path::new("r.json"), &seed_sla(), "test", &v, &[]);
        assert!(text.contains("nothing judged"), "{text}");
        // Latency-only SLA on saturation cells only.
        let sla = Sla::parse("[lease]\np95_ms = 50\n").unwrap();
        let run = run_of(vec![cell("17.10", "saturation", "x", 1, 1.0, 2.0)]);
        assert_eq!(exit_code(&judge(&run, &sla)), 1);
    }

    #[test]
    fn all_pass_exits_0_and_partial_run_is_said() {
        let mut run = run_of(vec![
            cell(
                "15.18 (Debian 15.18-0+deb12u1)",
                "run",
                "pending_partial",
                1,
                0.4,
                0.6,
            ),
            cell(
                "15.18 (Debian 15.18-0+deb12u1)",
                "run",
                "pending_partial",
                4,
                0.8,
                1.3,
            ),
        ]);
        run.partial = true;
        run.stopped_because = Some("interrupted (Ctrl-C)".into());
        run.cells[1].partial = true;
        let sla = seed_sla();
        let v = judge(&run, &sla);
        assert_eq!(exit_code(&v), 0);
        let text = render(
            &run,
            Path::new("r.json"),
            &sla,
            "sla.toml",
            &v,
            &knees(&run, &sla),
        );
        assert!(
            text.contains("PARTIAL RUN: interrupted (Ctrl-C); judging the 2 cells that ran"),
            "{text}"
        );
        assert!(
            text.contains("PASS  15.18 update_returning pending_partial run w=1 "),
            "{text}"
        );
        assert!(text.contains("w=4 (partial cell)"), "{text}");
        assert!(
            text.contains("holds up to w=4, the largest tested"),
            "{text}"
        );
        assert!(
            text.contains("check: PASS: all 8 checks hold on 2 cells (partial run)"),
            "{text}"
        );
        assert!(!text.contains("FAIL"), "{text}");
    }

    #[test]
    fn knee_needs_every_smaller_count_under() {
        let sla = seed_sla();
        let p95s = [
            (1, 10.0),
            (5, 20.0),
            (10, 49.0),
            (20, 80.0),
            (50, 45.0),
            (100, 300.0),
        ];
        let cells = p95s
            .iter()
            .map(|&(w, p)| cell("17.10", "seed", "pending_partial", w, 1.0, p))
            .collect();
        let run = run_of(cells);
        let k = knees(&run, &sla);
        assert_eq!(k.len(), 1);
        assert_eq!(
            k[0].at,
            KneeAt::Upto {
                holds_to: 10,
                first_fail: 20,
                p95_ms: Some(80.0),
                under_again: vec![50]
            }
        );
        assert!(k[0].judged);
        let text = render(&run, Path::new("r.json"), &sla, "t", &judge(&run, &sla), &k);
        assert!(
            text.contains("holds up to w=10; w=20 has 80.000 ms (w=50 under again, not counted"),
            "{text}"
        );
    }

    #[test]
    fn knee_none_all_hold_and_groups() {
        let sla = seed_sla();
        // Out of order, two versions, two indexes, a duplicate worker count.
        let run = run_of(vec![
            cell("15.18", "run", "none", 10, 1.0, 70.0),
            cell("15.18", "run", "none", 1, 1.0, 60.0),
            cell("17.10", "run", "none", 1, 1.0, 5.0),
            cell("17.10", "run", "none", 10, 1.0, 6.0),
            cell("17.10", "run", "pending_partial", 1, 1.0, 1.0),
            cell("17.10", "run", "pending_partial", 1, 1.0, 55.0),
        ]);
        let k = knees(&run, &sla);
        assert_eq!(k.len(), 3);
        assert_eq!(k[0].group.pg, "15.18");
        assert_eq!(
            k[0].at,
            KneeAt::None {
                smallest: 1,
                p95_ms: Some(60.0),
                under_again: vec![]
            }
        );
        assert_eq!(k[1].at, KneeAt::AllHold { largest: 10 });
        // The worst of two cells at one count decides.
        assert!(matches!(k[2].at, KneeAt::None { smallest: 1, p95_ms: Some(p), .. } if p == 55.0));
        let text = render(&run, Path::new("r.json"), &sla, "t", &judge(&run, &sla), &k);
        assert!(
            text.contains("none: the smallest count tested, w=1, has 60.000 ms"),
            "{text}"
        );
        // No p95 rule: no knee, said once.
        let sla = Sla::parse("[integrity]\nmax_lost = 0\n").unwrap();
        assert!(knees(&run, &sla).is_empty());
        let text = render(
            &run,
            Path::new("r.json"),
            &sla,
            "t",
            &judge(&run, &sla),
            &[],
        );
        assert!(text.contains("no [lease] p95_ms rule"), "{text}");
    }

    #[test]
    fn knee_counts_a_cell_without_leases_as_failing() {
        let mut c2 = cell("17.10", "run", "x", 2, 1.0, 1.0);
        c2.lease = Summary::default();
        let run = run_of(vec![cell("17.10", "run", "x", 1, 1.0, 1.0), c2]);
        let k = knees(&run, &seed_sla());
        assert_eq!(
            k[0].at,
            KneeAt::Upto {
                holds_to: 1,
                first_fail: 2,
                p95_ms: None,
                under_again: vec![]
            }
        );
    }
}
