//! A whole run: reach each Postgres, claim the schema, sweep strategies x
//! indexes x worker counts, save the results, stop what was started.
//!
//! Whatever happens (error, Ctrl-C), every server leasebench started is
//! stopped and its directory removed before this returns, and what was
//! measured is saved.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, Mode, Plan};
use crate::error::{Error, Result};
use crate::observe::{self, ServerInfo};
use crate::pg::{self, Server, Target};
use crate::results::{self, CellResult, RunResult, Saved};
use crate::schema;
use crate::workload::{run_cell, CellSpec, Interrupt};

/// What a finished (or interrupted) run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub result: RunResult,
    pub saved: Saved,
}

/// Messages for the person watching (stderr), and the progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub progress: bool,
    pub quiet: bool,
}

impl Ui {
    fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

struct Bar {
    bar: ProgressBar,
    mode: Mode,
}

impl crate::workload::driver::Progress for Bar {
    fn tick(&self, elapsed: Duration, leased: u64, completed: u64) {
        let rate = completed as f64 / elapsed.as_secs_f64().max(1e-3);
        match self.mode {
            Mode::Duration(d) => self
                .bar
                .set_position((elapsed.as_millis() as u64).min(d.as_millis() as u64)),
            Mode::Items { .. } => self.bar.set_position(completed),
        }
        self.bar
            .set_message(format!("{leased} leased, {completed} done, {rate:.0}/s"));
    }
}

fn bar_for(ui: &Ui, mode: Mode, label: &str) -> Bar {
    let len = match mode {
        Mode::Duration(d) => d.as_millis() as u64,
        Mode::Items { items, .. } => items,
    };
    let bar = if ui.progress && !ui.quiet {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>40} [{bar:25}] {elapsed:>4} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    Bar { bar, mode }
}

/// Run the sweep `config` describes. `interrupt` stops it early (the
/// binary wires it to Ctrl-C); the partial result is still saved and
/// [`Error::Interrupted`] returned.
pub async fn run(config: &Config, interrupt: &Interrupt, ui: Ui) -> Result<RunOutcome> {
    let plan = config.validate()?;
    results::ensure_writable(&plan.out)?;
    let targets = pg::targets(config.database_url.as_deref(), &config.pg_bin, &config.pg)?;
    if plan.chaos.restart && targets.iter().any(|t| matches!(t, Target::Url(_))) {
        return Err(Error::usage(
            "--chaos restart restarts only a throwaway cluster leasebench started; it will not restart the server at DATABASE_URL",
        ));
    }
    let t0 = Instant::now();
    let mut result = RunResult::begin(config);
    let mut failure: Option<Error> = None;
    for target in &targets {
        if interrupt.is_set() {
            break;
        }
        let server = match Server::open(target, plan.max_workers(), &plan.pg_settings).await {
            Ok(s) => s,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let r = sweep_server(&server, &plan, interrupt, ui, &mut result).await;
        let stopped = server.shutdown().await;
        if let Err(e) = r {
            failure = Some(e);
            break;
        }
        if let Err(e) = stopped {
            failure = Some(e);
            break;
        }
        if matches!(target, Target::Local(_)) {
            ui.say("leasebench: throwaway cluster stopped and removed");
        }
    }
    let stopped_because = if interrupt.is_set() {
        Some("interrupted (Ctrl-C)".to_string())
    } else {
        failure.as_ref().map(|e| error_chain(e))
    };
    result.end(t0, stopped_because);
    // An error before any cell ran (bad server, bad schema) saves nothing.
    if result.cells.is_empty() {
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let saved = result.save(&plan.out)?;
    if interrupt.is_set() {
        eprint!("{}", crate::report::table::render(&result));
        return Err(Error::Interrupted(saved.json));
    }
    if let Some(e) = failure {
        eprint!("{}", crate::report::table::render(&result));
        ui.say(format!(
            "leasebench: partial results saved to {}",
            saved.json.display()
        ));
        return Err(e);
    }
    Ok(RunOutcome { result, saved })
}

/// The error and its sources on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}

/// Connect to a reached server for a sweep: check it has room for the
/// workers, claim leasebench's schema (creating and marking it, or refusing
/// one it did not create), migrate it, and try every index variant. The
/// returned connection holds the schema's advisory lock: keep it open for
/// the whole sweep.
pub async fn prepare_server(
    server: &Server,
    plan: &Plan,
) -> Result<(tokio_postgres::Client, ServerInfo)> {
    let mut setup = server
        .connect_schema("leasebench-setup", &plan.schema)
        .await?;
    let info: ServerInfo = observe::server_info(&setup, &server.label).await?;
    let needed = plan.max_workers() as i64 + pg::OBSERVERS as i64;
    if info.usable_connections < needed {
        return Err(Error::usage(format!(
            "--workers {} needs {needed} connections but the server allows {} more (max_connections={}); lower --workers or raise max_connections",
            plan.max_workers(),
            info.usable_connections.max(0),
            info.settings.get("max_connections").map(|s| s.as_str()).unwrap_or("?")
        )));
    }
    schema::claim(&setup, &plan.schema).await?;
    schema::migrate(&mut setup).await?;
    schema::check_indexes(&mut setup, &plan.indexes).await?;
    Ok((setup, info))
}

async fn sweep_server(
    server: &Server,
    plan: &Plan,
    interrupt: &Interrupt,
    ui: Ui,
    result: &mut RunResult,
) -> Result<()> {
    let (mut setup, info) = prepare_server(server, plan).await?;
    let pg_version = info.pg_version.clone();
    result.servers.push(info);
    ui.say(format!("leasebench: using {}", server.label));
    let cells = plan.strategies.len() * plan.indexes.len() * plan.workers.len();
    let mut k = 0;
    for strategy in &plan.strategies {
        for index in &plan.indexes {
            for &workers in &plan.workers {
                if interrupt.is_set() {
                    return Ok(());
                }
                k += 1;
                if setup.is_closed() {
                    // A --chaos restart took the run's connection (and its
                    // schema lock) with it; if the server is gone for good,
                    // the run cannot go on (a runtime failure, not a usage one).
                    setup = prepare_server(server, plan)
                        .await
                        .map_err(|e| {
                            Error::Cluster(format!("lost the server mid-run: {}", error_chain(&e)))
                        })?
                        .0;
                }
                let spec = CellSpec::from_plan(plan, "run", &pg_version, strategy, index, workers);
                let label = format!(
                    "[{k}/{cells}] {} {} {} w={workers}",
                    pg_version.split_whitespace().next().unwrap_or(""),
                    strategy.name,
                    index.name
                );
                let bar = bar_for(&ui, plan.mode, &label);
                let cell = run_cell(server, &setup, &spec, interrupt, &bar).await;
                bar.bar.finish_and_clear();
                let cell: CellResult = cell?;
                ui.say(format!(
                    "{label}: {:.0} leases/s, lease p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms, lost {}, double-leased {}",
                    cell.throughput_per_s,
                    cell.lease.p50_ms,
                    cell.lease.p95_ms,
                    cell.lease.p99_ms,
                    cell.audit.lost,
                    cell.audit.double_leased
                ));
                let lost_server = cell.partial && !interrupt.is_set();
                result.cells.push(cell);
                if lost_server {
                    return Err(Error::Cluster(
                        "the server went away during a cell; what the workers measured is saved"
                            .into(),
                    ));
                }
            }
        }
    }
    if !server.is_throwaway() {
        schema::clear(&setup).await?;
    }
    Ok(())
}

/// `leasebench explain`: for each Postgres x strategy x index, seed a fresh
/// table and show the lease statement's plan: the summary, then the plan
/// as Postgres prints it. Returns the text to print.
pub async fn explain(config: &Config) -> Result<String> {
    use std::fmt::Write as _;
    let plan = config.validate()?;
    let targets = pg::targets(config.database_url.as_deref(), &config.pg_bin, &config.pg)?;
    let mut out = String::new();
    for target in &targets {
        let server = Server::open(target, plan.max_workers(), &plan.pg_settings).await?;
        let r = async {
            let (setup, info) = prepare_server(&server, &plan).await?;
            eprintln!("leasebench: using {}", server.label);
            let mut text = String::new();
            for strategy in &plan.strategies {
                for index in &plan.indexes {
                    let spec =
                        CellSpec::from_plan(&plan, "explain", &info.pg_version, strategy, index, 1);
                    let setup_sql = strategy.render(plan.lease_ms, plan.batch).setup;
                    schema::reset_cell(&setup, index, strategy, &setup_sql, plan.queue_depth).await?;
                    let s = crate::plan::capture(&server, &spec, "fresh").await?.summary;
                    let lines = crate::plan::explain(&server, &spec, "TEXT").await?;
                    let _ = writeln!(
                        text,
                        "== Postgres {} | strategy {} | index {} | {} pending rows, freshly vacuumed ==",
                        info.pg_version, strategy.name, index.name, plan.queue_depth
                    );
                    let _ = writeln!(
                        text,
                        "top node: {}\naccess: {}\nrows removed by filter: {:.0}\nshared buffers hit/read: {}/{}\nexecution: {:.3} ms\n",
                        s.top_node,
                        s.access(),
                        s.rows_removed_by_filter,
                        s.shared_hit_blocks,
                        s.shared_read_blocks,
                        s.execution_ms
                    );
                    for l in lines {
                        let _ = writeln!(text, "{l}");
                    }
                    text.push('\n');
                }
            }
            if !server.is_throwaway() {
                schema::clear(&setup).await?;
            }
            Ok::<_, Error>(text)
        }
        .await;
        server.shutdown().await?;
        out.push_str(&r?);
    }
    Ok(out)
}
