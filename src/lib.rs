//! leasebench measures how Postgres behaves when many workers lease work
//! from one table at once (`FOR UPDATE SKIP LOCKED` and its rivals): lease
//! latency percentiles and throughput from 1 to 100 workers, what the
//! server was doing, and whether any work was lost or handed out twice.
//!
//! # Layout
//!
//! - [`cli`]: the command line, reduced to library calls (`main.rs` is thin).
//! - [`config`]: serde config with documented defaults, validated into a [`config::Plan`].
//! - [`pg`]: reaching Postgres — a URL, a throwaway cluster from local
//!   binaries, or a container (feature `containers`).
//! - [`schema`]: leasebench's own schema: claim, migrate, seed, reset, index variants.
//! - [`strategy`]: lease strategies and index variants, loaded from SQL files.
//! - [`workload`]: the worker loop, the producer, and the cell driver.
//! - [`metrics`]: per-worker HDR histograms, merged once; percentile summaries.
//! - [`observe`]: server counters and wait-event samples.
//! - [`plan`]: EXPLAIN (ANALYZE, BUFFERS) of the lease statement, rolled back, summarised.
//! - [`audit`]: exactly-once accounting from what workers saw.
//! - [`results`]: the results contract (JSON + CSV), load and save.
//! - [`report`]: the terminal table, plots and comparisons (read results only).
//! - [`check`]: SLA rules from TOML, a verdict per cell, an exit code.
//! - [`run`]: a whole sweep, with cleanup on every path.
//! - [`error`]: every failure as a value with a one-line message and an exit code.
//!
//! ```no_run
//! # async fn demo() -> leasebench::error::Result<()> {
//! let config = leasebench::config::Config { workers: vec![1, 10], ..Default::default() };
//! let ui = leasebench::run::Ui { progress: false, quiet: true };
//! let outcome = leasebench::run::run(&config, &leasebench::workload::Interrupt::new(), ui).await?;
//! println!("{}", leasebench::report::table::render(&outcome.result));
//! # Ok(()) }
//! ```

pub mod audit;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod pg;
pub mod plan;
pub mod report;
pub mod results;
pub mod run;
pub mod schema;
pub mod strategy;
pub mod workload;

pub use error::{Error, Result};
