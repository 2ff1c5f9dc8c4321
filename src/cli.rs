//! The command line (clap derive), reduced to library calls.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_duration, Config};
use crate::error::Result;
use crate::run::{run, Ui};
use crate::workload::Interrupt;

/// leasebench: how Postgres work leasing (FOR UPDATE SKIP LOCKED and rivals)
/// scales from 1 to 100 workers.
#[derive(Debug, Parser)]
#[command(name = "leasebench", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sweep: workers lease, work and complete; print a table; write results/.
    Run(Box<RunArgs>),
    /// Postgres installations leasebench can start.
    Pg {
        #[command(subcommand)]
        command: PgCommand,
    },
    /// List the lease strategies and index variants.
    Strategies(CatalogueArgs),
    /// Judge a results file against an SLA (exit 0 pass, 1 fail, 2 bad input).
    Check {
        /// A results JSON file (e.g. results/latest.json).
        result: PathBuf,
        /// SLA file [default: sla.toml next to the crate, else the seed's targets].
        #[arg(long, value_name = "FILE")]
        sla: Option<PathBuf>,
    },
    /// Line up matching cells of several results, with ratios and overlay plots.
    Compare {
        /// Results JSON files; the first is the baseline (one file: its versions against each other).
        #[arg(required = true, num_args = 1..)]
        results: Vec<PathBuf>,
        /// Where to write the overlay plots [default: next to the first file].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Show the lease statement's plan (EXPLAIN ANALYZE, BUFFERS; rolled back) per strategy and index.
    Explain(Box<ExplainArgs>),
    /// Redraw the plots of a saved result.
    Plot {
        /// A results JSON file.
        result: PathBuf,
        /// Where to write the plots [default: next to the result].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PgCommand {
    /// Every Postgres found: version and bin dir.
    List {
        /// Extra bin dir to look in (repeatable).
        #[arg(long = "pg-bin", value_name = "DIR")]
        pg_bin: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct CatalogueArgs {
    /// Also load this strategy file (repeatable).
    #[arg(long = "strategy-file", value_name = "FILE")]
    pub strategy_file: Vec<PathBuf>,
    /// Also load this index file (repeatable).
    #[arg(long = "index-file", value_name = "FILE")]
    pub index_file: Vec<PathBuf>,
}

/// Flags of `leasebench explain`.
#[derive(Debug, Args, Default)]
pub struct ExplainArgs {
    /// Strategies, comma-separated [default: update_returning].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub strategy: Vec<String>,
    /// Index variants, comma-separated [default: pending_partial].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub index: Vec<String>,
    /// Postgres versions, e.g. 15,17 [default: the newest found].
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS")]
    pub pg: Vec<String>,
    /// Directory with Postgres server binaries (repeatable).
    #[arg(long = "pg-bin", value_name = "DIR")]
    pub pg_bin: Vec<PathBuf>,
    /// Use this server instead of a throwaway cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Schema leasebench creates and works in [default: leasebench].
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Pending rows in the table when the plan is taken [default: 10000].
    #[arg(long, value_name = "N")]
    pub queue_depth: Option<u64>,
    /// Add a strategy from an SQL file (repeatable).
    #[arg(long = "strategy-file", value_name = "FILE")]
    pub strategy_file: Vec<PathBuf>,
    /// Add an index variant from an SQL file (repeatable).
    #[arg(long = "index-file", value_name = "FILE")]
    pub index_file: Vec<PathBuf>,
}

impl ExplainArgs {
    fn to_config(&self) -> Config {
        let mut c = Config {
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            pg_bin: self.pg_bin.clone(),
            pg: self.pg.clone(),
            strategy_files: self.strategy_file.clone(),
            index_files: self.index_file.clone(),
            workers: vec![1],
            ..Config::default()
        };
        if !self.strategy.is_empty() {
            c.strategies = self.strategy.clone();
        }
        if !self.index.is_empty() {
            c.indexes = self.index.clone();
        }
        if let Some(s) = &self.schema {
            c.schema = s.clone();
        }
        if let Some(q) = self.queue_depth {
            c.queue_depth = q;
        }
        c
    }
}

/// Flags of `leasebench run`. Each overrides the same key of `--config`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// TOML file with any of the settings below (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use this server instead of a throwaway cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory with Postgres server binaries (repeatable).
    #[arg(long = "pg-bin", value_name = "DIR")]
    pub pg_bin: Vec<PathBuf>,
    /// Postgres versions to sweep, e.g. 15,17 (default: the newest found).
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS")]
    pub pg: Vec<String>,
    /// Setting for the throwaway cluster, name=value (repeatable).
    #[arg(long = "pg-setting", value_name = "NAME=VALUE")]
    pub pg_setting: Vec<String>,
    /// Schema leasebench creates and works in [default: leasebench].
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Worker counts, e.g. 1,5,10,20,50,100 [default: 1,5,10,20,50,100].
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub workers: Vec<u32>,
    /// How long each cell runs, e.g. 5s [default: 5s].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Seed N items per cell and run until each is processed once (instead of --duration).
    #[arg(long, value_name = "N")]
    pub items: Option<u64>,
    /// Longest one cell may take in --items mode [default: 5min].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_cell_time: Option<Duration>,
    /// Simulated work per lease, ms (the seed uses 100) [default: 0].
    #[arg(long, value_name = "MS")]
    pub work_ms: Option<u64>,
    /// Lease length, ms [default: 300000].
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// Rows per lease for batch strategies [default: 10].
    #[arg(long, value_name = "K")]
    pub batch: Option<u32>,
    /// Queue depth the producer keeps in duration mode [default: 10000].
    #[arg(long, value_name = "N")]
    pub queue_depth: Option<u64>,
    /// Open-loop pacing: total leases per second (latency from intended start).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Strategies to sweep, comma-separated [default: update_returning].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub strategy: Vec<String>,
    /// Add a strategy from an SQL file (repeatable).
    #[arg(long = "strategy-file", value_name = "FILE")]
    pub strategy_file: Vec<PathBuf>,
    /// Index variants to sweep, comma-separated [default: pending_partial].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub index: Vec<String>,
    /// Add an index variant from an SQL file (repeatable).
    #[arg(long = "index-file", value_name = "FILE")]
    pub index_file: Vec<PathBuf>,
    /// Directory for results [default: results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Inject a fault in every cell: kill=N (terminate N worker backends),
    /// abandon=P (drop P% of leases uncompleted), restart (restart the
    /// throwaway server once). Repeatable.
    #[arg(long, value_name = "FAULT")]
    pub chaos: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print only the table.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The config: `--config` file (or defaults), then flags on top.
    pub fn to_config(&self) -> Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_toml_file(p)?,
            None => Config::default(),
        };
        if self.database_url.is_some() {
            c.database_url = self.database_url.clone().filter(|u| !u.is_empty());
        }
        c.pg_bin.extend(self.pg_bin.iter().cloned());
        if !self.pg.is_empty() {
            c.pg = self.pg.clone();
        }
        c.pg_settings.extend(self.pg_setting.iter().cloned());
        if let Some(v) = &self.schema {
            c.schema = v.clone();
        }
        if !self.workers.is_empty() {
            c.workers = self.workers.clone();
        }
        if let Some(v) = self.duration {
            c.duration = v;
        }
        if self.items.is_some() {
            c.items = self.items;
        }
        if let Some(v) = self.max_cell_time {
            c.max_cell_time = v;
        }
        if let Some(v) = self.work_ms {
            c.work_ms = v;
        }
        if let Some(v) = self.lease_ms {
            c.lease_ms = v;
        }
        if let Some(v) = self.batch {
            c.batch = v;
        }
        if let Some(v) = self.queue_depth {
            c.queue_depth = v;
        }
        if self.rate.is_some() {
            c.rate = self.rate;
        }
        if !self.strategy.is_empty() {
            c.strategies = self.strategy.clone();
        }
        c.strategy_files.extend(self.strategy_file.iter().cloned());
        if !self.index.is_empty() {
            c.indexes = self.index.clone();
        }
        c.index_files.extend(self.index_file.iter().cloned());
        if let Some(v) = &self.out {
            c.out = v.clone();
        }
        if self.no_progress {
            c.progress = Some(false);
        }
        c.chaos.extend(self.chaos.iter().cloned());
        Ok(c)
    }
}

/// Run a parsed command line; returns the process exit code.
pub async fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => {
            let config = args.to_config()?;
            let interrupt = Interrupt::new();
            interrupt.on_signals();
            let ui = Ui {
                progress: config
                    .progress
                    .unwrap_or_else(|| std::io::stderr().is_terminal()),
                quiet: args.quiet,
            };
            let outcome = run(&config, &interrupt, ui).await?;
            print!("{}", crate::report::table::render(&outcome.result));
            let out_dir = outcome
                .saved
                .json
                .parent()
                .unwrap_or(std::path::Path::new("."));
            match crate::report::plot::draw_all(&outcome.result, out_dir) {
                Ok(files) if !args.quiet => {
                    for f in files
                        .iter()
                        .filter(|f| f.extension().is_some_and(|e| e == "png"))
                    {
                        eprintln!("leasebench: plot {}", f.display());
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!(
                    "leasebench: plots not drawn: {}",
                    crate::run::error_chain(&e)
                ),
            }
            if !args.quiet {
                eprintln!(
                    "leasebench: wrote {} and {} (wall time {:.1} s)",
                    outcome.saved.json.display(),
                    outcome.saved.csv.display(),
                    outcome.result.wall_time_s
                );
            }
            Ok(0)
        }
        Command::Pg {
            command: PgCommand::List { pg_bin },
        } => {
            let found = crate::pg::discover::discover(&pg_bin)?;
            if found.is_empty() {
                return Err(crate::pg::discover::no_postgres());
            }
            println!("{:<8} {:<20} bin dir", "version", "found by");
            for (i, f) in found.iter().enumerate() {
                println!(
                    "{:<8} {:<20} {}{}",
                    f.version.to_string(),
                    f.found_by,
                    f.bin.display(),
                    if i == 0 { "  (default: newest)" } else { "" }
                );
            }
            Ok(0)
        }
        Command::Check { result, sla } => crate::check::cli(&result, sla.as_deref()),
        Command::Compare { results, out } => crate::report::compare::cli(&results, out.as_deref()),
        Command::Explain(args) => {
            print!("{}", crate::run::explain(&args.to_config()).await?);
            Ok(0)
        }
        Command::Plot { result, out } => crate::report::plot::cli(&result, out.as_deref()),
        Command::Strategies(args) => {
            let cat = crate::strategy::Catalogue::load(&args.strategy_file, &args.index_file)?;
            println!("strategies:");
            for s in cat.strategies.values() {
                println!("  {:<26} {:<22} {}", s.name, s.traits(), s.summary);
            }
            println!("index variants:");
            for i in cat.indexes.values() {
                println!("  {:<26} {}", i.name, i.summary);
            }
            Ok(0)
        }
    }
}
