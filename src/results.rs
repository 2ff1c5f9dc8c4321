//! The results contract: what a run writes and what `check`, `plot` and
//! `compare` read. JSON is the full record; CSV is one row per cell with
//! exactly [`CSV_COLUMNS`].
//!
//! Reading a file written by a newer leasebench (higher `schema_version`)
//! or a malformed one is a clear error naming the path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::config::{Config, Mode, Pacing};
use crate::error::{Error, Result};
use crate::metrics::Summary;
use crate::observe::{CounterDelta, ServerInfo};

/// Version of the JSON layout. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The CSV columns, in order (DESIGN.md's contract).
pub const CSV_COLUMNS: [&str; 18] = [
    "pg_version",
    "strategy",
    "index",
    "workers",
    "work_ms",
    "duration_s",
    "leased",
    "completed",
    "throughput_per_s",
    "commits_per_s",
    "lease_p50_ms",
    "lease_p95_ms",
    "lease_p99_ms",
    "lease_max_ms",
    "empty_polls",
    "double_leased",
    "lost",
    "errors",
];

/// One run: config, environment, and a result per cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub wall_time_s: f64,
    /// Interrupted (Ctrl-C) or stopped by an error: not every cell ran.
    pub partial: bool,
    /// Why the run stopped early, when it did.
    pub stopped_because: Option<String>,
    /// The config as given, password removed.
    pub config: Config,
    pub environment: Environment,
    /// One per Postgres the run used.
    pub servers: Vec<ServerInfo>,
    pub cells: Vec<CellResult>,
}

/// Where the run happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub leasebench_version: String,
    pub git_revision: String,
    pub os: String,
    pub kernel: String,
    pub cpus: usize,
    pub memory_bytes: u64,
    /// Peak resident memory of the leasebench process, bytes.
    pub peak_rss_bytes: u64,
}

impl Environment {
    pub fn detect() -> Environment {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        Environment {
            leasebench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_revision: env!("LEASEBENCH_GIT_REV").to_string(),
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            memory_bytes: meminfo_kb("MemTotal:") * 1024,
            peak_rss_bytes: peak_rss_bytes(),
        }
    }
}

fn meminfo_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This process's peak resident set size (VmHWM), bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// One cell: a Postgres version x strategy x index x worker count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    /// Which profile the cell belongs to: `run` (leasebench run), or the
    /// bench's `saturation` / `seed`.
    #[serde(default = "default_scenario")]
    pub scenario: String,
    pub pg_version: String,
    pub strategy: String,
    pub index: String,
    pub workers: u32,
    pub work_ms: u64,
    pub lease_ms: u64,
    pub batch: u32,
    pub mode: Mode,
    pub pacing: Pacing,
    /// Measured time from the start signal until every worker stopped.
    pub duration_s: f64,
    /// Items leased (a batch of 10 counts 10).
    pub leased: u64,
    /// Items whose completion succeeded.
    pub completed: u64,
    /// Lease statements executed that returned work.
    pub lease_calls: u64,
    pub throughput_per_s: f64,
    pub commits_per_s: f64,
    /// Lease calls that found nothing available.
    pub empty_polls: u64,
    /// In duration mode: the queue ran dry at least once (the producer fell behind).
    pub queue_ran_dry: bool,
    /// Errors by SQLSTATE class.
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    pub lease: Summary,
    pub complete: Summary,
    pub cycle: Summary,
    pub pickup_lag: Summary,
    pub empty_lease: Summary,
    /// HdrHistogram V2 (deflate, base64) per metric, microseconds.
    pub histograms: BTreeMap<String, String>,
    pub server: CounterDelta,
    /// Wait events of the workers' backends, summed over samples.
    pub wait_events: BTreeMap<String, u64>,
    pub wait_samples: u64,
    pub audit: Audit,
    /// Query plans of the lease statement (fresh table, after the run).
    #[serde(default)]
    pub plans: Vec<crate::plan::PlanCapture>,
    /// Completions that matched no row (their lease had expired).
    #[serde(default)]
    pub stale_completions: u64,
    /// What `--chaos` did.
    #[serde(default)]
    pub chaos: crate::workload::driver::ChaosReport,
    /// Things the reader should know (queue ran dry, errors, timeouts).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The cell was cut short (Ctrl-C).
    pub partial: bool,
}

fn default_scenario() -> String {
    "run".into()
}

/// One CSV row, in contract order.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CsvRow {
    pub pg_version: String,
    pub strategy: String,
    pub index: String,
    pub workers: u32,
    pub work_ms: u64,
    pub duration_s: f64,
    pub leased: u64,
    pub completed: u64,
    pub throughput_per_s: f64,
    pub commits_per_s: f64,
    pub lease_p50_ms: f64,
    pub lease_p95_ms: f64,
    pub lease_p99_ms: f64,
    pub lease_max_ms: f64,
    pub empty_polls: u64,
    pub double_leased: u64,
    pub lost: u64,
    pub errors: u64,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl From<&CellResult> for CsvRow {
    fn from(c: &CellResult) -> Self {
        CsvRow {
            pg_version: c.pg_version.clone(),
            strategy: c.strategy.clone(),
            index: c.index.clone(),
            workers: c.workers,
            work_ms: c.work_ms,
            duration_s: round(c.duration_s, 3),
            leased: c.leased,
            completed: c.completed,
            throughput_per_s: round(c.throughput_per_s, 1),
            commits_per_s: round(c.commits_per_s, 1),
            lease_p50_ms: round(c.lease.p50_ms, 3),
            lease_p95_ms: round(c.lease.p95_ms, 3),
            lease_p99_ms: round(c.lease.p99_ms, 3),
            lease_max_ms: round(c.lease.max_ms, 3),
            empty_polls: c.empty_polls,
            double_leased: c.audit.double_leased,
            lost: c.audit.lost,
            errors: c.errors_total,
        }
    }
}

/// A new run id: UTC time to the second plus a few random hex digits.
pub fn new_run_id() -> String {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = t.chars().filter(|c| *c != ':').collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{compact}-{:04x}", (nanos ^ std::process::id()) & 0xffff)
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Check before a run that `dir` can be written (so a long run is not
/// lost at the end). Creates it if missing.
pub fn ensure_writable(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::usage(format!("--out {}: cannot write there ({e})", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = tempfile::Builder::new()
        .prefix(".leasebench-write-check")
        .tempfile_in(dir)
        .map_err(fail)?;
    drop(probe);
    Ok(())
}

/// The files one save wrote.
#[derive(Debug, Clone)]
pub struct Saved {
    pub json: PathBuf,
    pub csv: PathBuf,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::file("cannot write", path, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::file("cannot write", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::file("cannot write", path, e.error))?;
    Ok(())
}

/// CSV text for a run's cells.
pub fn to_csv(run: &RunResult) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if run.cells.is_empty() {
        w.write_record(CSV_COLUMNS)
            .map_err(|e| Error::Internal(format!("csv: {e}")))?;
    }
    for c in &run.cells {
        w.serialize(CsvRow::from(c))
            .map_err(|e| Error::Internal(format!("csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("csv: {e}")))
}

impl RunResult {
    /// An empty result for a run of `config` starting now.
    pub fn begin(config: &Config) -> RunResult {
        RunResult {
            schema_version: SCHEMA_VERSION,
            run_id: new_run_id(),
            started_at: now_rfc3339(),
            finished_at: String::new(),
            wall_time_s: 0.0,
            partial: false,
            stopped_because: None,
            config: config.redacted(),
            environment: Environment::detect(),
            servers: Vec::new(),
            cells: Vec::new(),
        }
    }

    /// Stamp the end: finish time, wall time, peak memory, and why the run
    /// stopped early (marking it partial) if it did.
    pub fn end(&mut self, started: std::time::Instant, stopped_because: Option<String>) {
        self.finished_at = now_rfc3339();
        self.wall_time_s = started.elapsed().as_secs_f64();
        self.environment.peak_rss_bytes = peak_rss_bytes();
        if stopped_because.is_some() {
            self.partial = true;
            self.stopped_because = stopped_because;
        }
    }

    /// Write `<dir>/<run-id>.json` and `.csv`, and copy them to `latest.*`.
    pub fn save(&self, dir: &Path) -> Result<Saved> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file("cannot create", dir, e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("serializing results: {e}")))?;
        let csv = to_csv(self)?;
        let saved = Saved {
            json: dir.join(format!("{}.json", self.run_id)),
            csv: dir.join(format!("{}.csv", self.run_id)),
        };
        write_atomic(&saved.json, &json)?;
        write_atomic(&saved.csv, &csv)?;
        write_atomic(&dir.join("latest.json"), &json)?;
        write_atomic(&dir.join("latest.csv"), &csv)?;
        Ok(saved)
    }

    /// Read a results JSON file.
    pub fn load(path: &Path) -> Result<RunResult> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file("cannot read results", path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::file("results file is not valid JSON:", path, e))?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| {
                Error::usage(format!(
                    "{} is not a leasebench results file (no schema_version)",
                    path.display()
                ))
            })?;
        if version > SCHEMA_VERSION as u64 {
            return Err(Error::usage(format!(
                "{} has schema_version {version}, written by a newer leasebench; this one reads up to {SCHEMA_VERSION}",
                path.display()
            )));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::file("results file does not match the contract:", path, e))
    }
}
