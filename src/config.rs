//! Run configuration: plain serde structs with documented defaults, then
//! [`Config::validate`] into a typed [`Plan`].
//!
//! This module owns every default leasebench uses. It does not reach a
//! server: checks that need one (worker counts against `max_connections`,
//! versions among the binaries found) happen where the server is reached.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::strategy::{IndexVariant, Strategy};

/// The seed's worker counts.
pub const DEFAULT_WORKERS: [u32; 6] = [1, 5, 10, 20, 50, 100];
/// The most workers one cell may run (each owns a server connection).
pub const MAX_WORKERS: u32 = 1000;

/// Everything a run needs, as the user gave it (CLI flags, or a TOML file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Server to use instead of a throwaway cluster (libpq-style URL).
    /// Default: none (`DATABASE_URL` if set). Never serialized with its password.
    pub database_url: Option<String>,
    /// Extra directories holding Postgres server binaries. Default: none.
    pub pg_bin: Vec<PathBuf>,
    /// Postgres versions to sweep (`15`, `17.2`), among those found.
    /// Default: empty, meaning the newest found.
    pub pg: Vec<String>,
    /// `name=value` settings for the throwaway cluster. Default: none.
    pub pg_settings: Vec<String>,
    /// Schema leasebench creates and works in. Default `leasebench`.
    pub schema: String,
    /// Worker counts to sweep. Default 1, 5, 10, 20, 50, 100.
    pub workers: Vec<u32>,
    /// How long each cell runs in duration mode. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Seed this many items and run until all are processed (the seed's
    /// load-test shape) instead of running for `duration`. Default: off.
    pub items: Option<u64>,
    /// Upper bound on one cell in items mode. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub max_cell_time: Duration,
    /// Simulated work between lease and complete, in ms. Default 0.
    pub work_ms: u64,
    /// Lease length (`locked_until = now() + lease`), in ms. Default 300000 (5 min, as the seed).
    pub lease_ms: u64,
    /// Rows per lease for batch strategies. Default 10.
    pub batch: u32,
    /// Queue depth the producer keeps in duration mode. Default 10000.
    pub queue_depth: u64,
    /// Open-loop pacing: total leases per second across workers; latency is
    /// measured from each lease's intended start. Default: closed loop.
    pub rate: Option<f64>,
    /// Strategies to sweep, by name. Default `update_returning`.
    pub strategies: Vec<String>,
    /// User strategy files (added to the catalogue). Default: none.
    pub strategy_files: Vec<PathBuf>,
    /// Index variants to sweep, by name. Default `pending_partial`.
    pub indexes: Vec<String>,
    /// User index files (added to the catalogue). Default: none.
    pub index_files: Vec<PathBuf>,
    /// Where results go. Default `results`.
    pub out: PathBuf,
    /// Show a progress bar. Default: when stderr is a terminal.
    pub progress: Option<bool>,
    /// Fault injection: `kill=N`, `abandon=P`, `restart`. Default: none.
    pub chaos: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: None,
            pg_bin: Vec::new(),
            pg: Vec::new(),
            pg_settings: Vec::new(),
            schema: "leasebench".into(),
            workers: DEFAULT_WORKERS.to_vec(),
            duration: Duration::from_secs(5),
            items: None,
            max_cell_time: Duration::from_secs(300),
            work_ms: 0,
            lease_ms: 300_000,
            batch: 10,
            queue_depth: 10_000,
            rate: None,
            strategies: vec!["update_returning".into()],
            strategy_files: Vec::new(),
            indexes: vec!["pending_partial".into()],
            index_files: Vec::new(),
            out: PathBuf::from("results"),
            progress: None,
            chaos: Vec::new(),
        }
    }
}

/// When a cell ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Run for a fixed time while a producer keeps the queue fed.
    Duration(#[serde(with = "humantime_serde")] Duration),
    /// Seed this many items, run until each is processed once.
    Items {
        items: u64,
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
}

/// How workers pace their leases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// Each worker leases again as soon as its cycle ends.
    Closed,
    /// Each worker follows a fixed schedule (`interval` apart); latency is
    /// measured from the intended start, so a stall is not hidden
    /// (no coordinated omission).
    Open {
        #[serde(with = "humantime_serde")]
        interval: Duration,
    },
}

/// Faults injected into every cell (`--chaos`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    /// Worker backends to terminate (`pg_terminate_backend`) in each cell.
    pub kill: u32,
    /// Percent of leases dropped without completing, as if the worker crashed.
    pub abandon_pct: f64,
    /// Restart the server once mid-cell (throwaway cluster only).
    pub restart: bool,
}

impl Chaos {
    pub fn any(&self) -> bool {
        self.kill > 0 || self.abandon_pct > 0.0 || self.restart
    }

    /// Parse `--chaos` values: `kill=N`, `abandon=P` (percent), `restart`.
    pub fn parse(items: &[String]) -> Result<Chaos> {
        let mut c = Chaos::default();
        for item in items {
            let item = item.trim();
            let bad = |why: &str| {
                Error::usage(format!(
                    "--chaos {item:?}: {why}; use kill=N, abandon=P or restart"
                ))
            };
            match item.split_once('=') {
                None if item == "restart" => c.restart = true,
                Some(("kill", n)) => {
                    c.kill = n
                        .trim()
                        .parse()
                        .map_err(|_| bad("N must be a whole number"))?;
                    if c.kill == 0 {
                        return Err(bad("N must be at least 1"));
                    }
                }
                Some(("abandon", p)) => {
                    let p: f64 = p
                        .trim()
                        .trim_end_matches('%')
                        .parse()
                        .map_err(|_| bad("P must be a percentage"))?;
                    if !(p > 0.0 && p <= 100.0) {
                        return Err(bad("P must be more than 0 and at most 100"));
                    }
                    c.abandon_pct = p;
                }
                _ => return Err(bad("unknown fault")),
            }
        }
        Ok(c)
    }
}

/// A validated run: what will be swept, with every value checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schema: String,
    pub workers: Vec<u32>,
    pub mode: Mode,
    pub work: Duration,
    pub lease_ms: u64,
    pub batch: u32,
    pub queue_depth: u64,
    pub rate: Option<f64>,
    pub strategies: Vec<Strategy>,
    pub indexes: Vec<IndexVariant>,
    pub pg_settings: Vec<(String, String)>,
    pub out: PathBuf,
    pub chaos: Chaos,
}

impl Plan {
    /// Pacing for one cell of `workers` workers.
    pub fn pacing(&self, workers: u32) -> Pacing {
        match self.rate {
            None => Pacing::Closed,
            Some(rate) => Pacing::Open {
                interval: Duration::from_secs_f64(workers as f64 / rate),
            },
        }
    }

    pub fn max_workers(&self) -> u32 {
        self.workers.iter().copied().max().unwrap_or(1)
    }
}

impl Config {
    /// Read a TOML config file; unknown keys are errors naming the key.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file("cannot read config", path, e))?;
        toml::from_str(&text).map_err(|e| {
            // One line: the message and where, without toml's source excerpt.
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().replace('\n', " ");
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            Error::file("invalid config", path, format!("{at}{msg}"))
        })
    }

    /// Check every value and load the named strategies and index variants.
    pub fn validate(&self) -> Result<Plan> {
        validate_schema_name(&self.schema)?;
        if self.workers.is_empty() {
            return Err(Error::usage("--workers: give at least one worker count"));
        }
        let mut workers = self.workers.clone();
        for &w in &workers {
            if w == 0 {
                return Err(Error::usage("--workers: a worker count must be at least 1"));
            }
            if w > MAX_WORKERS {
                return Err(Error::usage(format!(
                    "--workers: {w} is more than leasebench's limit of {MAX_WORKERS} workers per cell"
                )));
            }
        }
        workers.sort_unstable();
        workers.dedup();
        let mode = match self.items {
            Some(0) => return Err(Error::usage("--items must be at least 1")),
            Some(n) => Mode::Items {
                items: n,
                max: self.max_cell_time,
            },
            None => {
                if self.duration < Duration::from_millis(100) {
                    return Err(Error::usage("--duration must be at least 100ms"));
                }
                Mode::Duration(self.duration)
            }
        };
        if self.work_ms > 600_000 {
            return Err(Error::usage("--work-ms must be at most 600000 (10 min)"));
        }
        if self.lease_ms == 0 || self.lease_ms > 86_400_000 {
            return Err(Error::usage(
                "--lease-ms must be between 1 and 86400000 (1 day)",
            ));
        }
        if self.batch == 0 || self.batch > 10_000 {
            return Err(Error::usage("--batch must be between 1 and 10000"));
        }
        if self.queue_depth < 100 || self.queue_depth > 10_000_000 {
            return Err(Error::usage(
                "--queue-depth must be between 100 and 10000000",
            ));
        }
        if let Some(rate) = self.rate {
            // Each worker's interval is workers / rate: keep it a sane Duration.
            let slowest = workers.iter().copied().max().unwrap_or(1) as f64 / rate;
            if !(rate.is_finite() && rate > 0.0 && slowest <= 3600.0) {
                return Err(Error::usage(
                    "--rate must be a positive number of leases per second, at least one lease per worker per hour",
                ));
            }
        }
        let pg_settings = self
            .pg_settings
            .iter()
            .map(|s| parse_setting(s))
            .collect::<Result<Vec<_>>>()?;
        let catalogue = crate::strategy::Catalogue::load(&self.strategy_files, &self.index_files)?;
        let strategies = names_or_default(&self.strategies, "update_returning")
            .iter()
            .map(|n| catalogue.strategy(n).cloned())
            .collect::<Result<Vec<_>>>()?;
        let indexes = names_or_default(&self.indexes, "pending_partial")
            .iter()
            .map(|n| catalogue.index(n).cloned())
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            schema: self.schema.clone(),
            workers,
            mode,
            work: Duration::from_millis(self.work_ms),
            lease_ms: self.lease_ms,
            batch: self.batch,
            queue_depth: self.queue_depth,
            rate: self.rate,
            strategies,
            indexes,
            pg_settings,
            out: self.out.clone(),
            chaos: Chaos::parse(&self.chaos)?,
        })
    }

    /// The config as recorded in results: the URL without its password.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        c.database_url = c.database_url.as_deref().map(crate::pg::url::redact);
        c
    }
}

fn names_or_default(names: &[String], default: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim();
        if !n.is_empty() && !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    if out.is_empty() {
        out.push(default.to_string());
    }
    out
}

/// Schema names are identifiers leasebench quotes itself; keep them plain.
pub fn validate_schema_name(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with("pg_")
        && s != "public"
        && s != "information_schema";
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--schema {s:?}: use lower-case letters, digits and _ (not public, information_schema or pg_*), at most 63 characters"
        )))
    }
}

fn parse_setting(s: &str) -> Result<(String, String)> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| Error::usage(format!("--pg-setting {s:?}: expected name=value")))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(Error::usage(format!(
            "--pg-setting {s:?}: bad setting name"
        )));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Parse a duration like `5s`, `500ms`, `2min`.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}); try 5s, 500ms or 2min"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let plan = Config::default().validate().unwrap();
        assert_eq!(plan.workers, DEFAULT_WORKERS.to_vec());
        assert_eq!(plan.strategies[0].name, "update_returning");
        assert_eq!(plan.indexes[0].name, "pending_partial");
        assert_eq!(plan.mode, Mode::Duration(Duration::from_secs(5)));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let cases: Vec<(Config, &str)> = vec![
            (
                Config {
                    workers: vec![0],
                    ..Default::default()
                },
                "at least 1",
            ),
            (
                Config {
                    workers: vec![5000],
                    ..Default::default()
                },
                "limit",
            ),
            (
                Config {
                    items: Some(0),
                    ..Default::default()
                },
                "--items",
            ),
            (
                Config {
                    schema: "Public".into(),
                    ..Default::default()
                },
                "--schema",
            ),
            (
                Config {
                    schema: "public".into(),
                    ..Default::default()
                },
                "--schema",
            ),
            (
                Config {
                    pg_settings: vec!["fsync".into()],
                    ..Default::default()
                },
                "name=value",
            ),
            (
                Config {
                    strategies: vec!["nope".into()],
                    ..Default::default()
                },
                "unknown strategy",
            ),
            (
                Config {
                    indexes: vec!["nope".into()],
                    ..Default::default()
                },
                "unknown index",
            ),
            (
                Config {
                    rate: Some(-1.0),
                    ..Default::default()
                },
                "--rate",
            ),
            (
                Config {
                    rate: Some(1e-20),
                    ..Default::default()
                },
                "--rate",
            ),
        ];
        for (c, want) in cases {
            let err = c.validate().unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(
                err.to_string().contains(want),
                "{err} should mention {want}"
            );
        }
    }

    #[test]
    fn parses_chaos() {
        let c = Chaos::parse(&["kill=3".into(), "abandon=12.5".into(), "restart".into()]).unwrap();
        assert_eq!(
            c,
            Chaos {
                kill: 3,
                abandon_pct: 12.5,
                restart: true
            }
        );
        assert!(!Chaos::parse(&[]).unwrap().any());
    }

    #[test]
    fn parses_durations_and_workers() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("five")
            .unwrap_err()
            .contains("not a duration"));
    }

    #[test]
    fn toml_roundtrip_and_unknown_keys() {
        let c: Config =
            toml::from_str("workers = [1, 2]\nduration = \"2s\"\nwork_ms = 100").unwrap();
        assert_eq!(c.workers, vec![1, 2]);
        assert_eq!(c.duration, Duration::from_secs(2));
        let err = toml::from_str::<Config>("wrokers = [1]").unwrap_err();
        assert!(err.to_string().contains("wrokers"));
    }
}
