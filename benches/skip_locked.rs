//! `cargo bench --bench skip_locked`: the standard sweep as Criterion groups.
//!
//! One group per scenario x Postgres version x strategy x index, one
//! benchmark per worker count, `Throughput::Elements(1)` per lease so
//! Criterion prints leases/s. Timing goes through `iter_custom`: workers
//! connect and prepare once per benchmark, outside the timed part, and each
//! Criterion sample is one batch of `iters` leases on those connections.
//! Lease percentiles come from the HDR histograms gathered across all of a
//! benchmark's batches (Criterion gives no p95).
//!
//! Scenarios: `saturation` (no simulated work: the throughput ceiling, and
//! where p95 crosses 50 ms) and `seed` (100 ms of work per item, the seed's
//! load-test profile; the SLA is judged on it).
//!
//! Environment: DATABASE_URL, LEASEBENCH_PG_BIN, LEASEBENCH_PG=15,17,
//! LEASEBENCH_WORKERS=1,10,50, LEASEBENCH_STRATEGIES, LEASEBENCH_INDEXES,
//! LEASEBENCH_SCENARIOS=saturation,seed, LEASEBENCH_OUT (default results/),
//! LEASEBENCH_QUICK=1 (a short run for CI). Criterion's own flags work:
//! `cargo bench --bench skip_locked -- seed`, `--save-baseline x`, `--baseline x`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use leasebench::config::{Config, Mode, Pacing, Plan};
use leasebench::pg::{self, Server};
use leasebench::results::{self, RunResult};
use leasebench::workload::{CellSession, CellSpec, Interrupt, Until};

struct Scenario {
    name: &'static str,
    work: Duration,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "saturation",
        work: Duration::ZERO,
    },
    Scenario {
        name: "seed",
        work: Duration::from_millis(100),
    },
];

fn env_list(key: &str) -> Vec<String> {
    std::env::var(key)
        .ok()
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("skip_locked bench: error: {msg}");
    std::process::exit(2);
}

fn config_from_env(quick: bool) -> Config {
    let mut c = Config {
        database_url: std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()),
        pg: env_list("LEASEBENCH_PG"),
        ..Config::default()
    };
    let workers = env_list("LEASEBENCH_WORKERS");
    c.workers = if !workers.is_empty() {
        workers
            .iter()
            .map(|w| {
                w.parse().unwrap_or_else(|_| {
                    fail(format!("LEASEBENCH_WORKERS: {w:?} is not a worker count"))
                })
            })
            .collect()
    } else if quick {
        vec![1, 10, 50]
    } else {
        leasebench::config::DEFAULT_WORKERS.to_vec()
    };
    let strategies = env_list("LEASEBENCH_STRATEGIES");
    if !strategies.is_empty() {
        c.strategies = strategies;
    }
    let indexes = env_list("LEASEBENCH_INDEXES");
    if !indexes.is_empty() {
        c.indexes = indexes;
    }
    c.out = std::env::var("LEASEBENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"));
    c
}

fn main() {
    let wall = Instant::now();
    let quick = std::env::var("LEASEBENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty());
    let config = config_from_env(quick);
    let plan = config.validate().unwrap_or_else(|e| fail(e));
    let scenario_names = env_list("LEASEBENCH_SCENARIOS");
    let scenarios: Vec<&Scenario> = if scenario_names.is_empty() {
        SCENARIOS.iter().collect()
    } else {
        scenario_names
            .iter()
            .map(|n| {
                SCENARIOS.iter().find(|s| s.name == n).unwrap_or_else(|| {
                    fail(format!(
                        "LEASEBENCH_SCENARIOS: unknown scenario {n:?} (saturation, seed)"
                    ))
                })
            })
            .collect()
    };
    results::ensure_writable(&plan.out).unwrap_or_else(|e| fail(e));
    let targets = pg::targets(config.database_url.as_deref(), &config.pg_bin, &config.pg)
        .unwrap_or_else(|e| fail(e));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e));
    let interrupt = Interrupt::new();
    rt.block_on(async { interrupt.on_signals() });

    let (warm, measure) = if quick {
        (Duration::from_millis(200), Duration::from_millis(800))
    } else {
        (Duration::from_millis(500), Duration::from_secs(2))
    };
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(warm)
        .measurement_time(measure)
        .without_plots()
        .configure_from_args();

    let mut run = RunResult::begin(&config);
    let mut failure = None;
    for target in &targets {
        let server = match rt.block_on(Server::open(target, plan.max_workers(), &plan.pg_settings))
        {
            Ok(s) => s,
            Err(e) => {
                failure = Some(leasebench::run::error_chain(&e));
                break;
            }
        };
        let r = rt.block_on(async {
            let (setup, info) = leasebench::run::prepare_server(&server, &plan).await?;
            eprintln!("skip_locked: using {}", server.label);
            run.servers.push(info.clone());
            Ok::<_, leasebench::Error>((setup, info))
        });
        let (setup, info) = match r {
            Ok(x) => x,
            Err(e) => {
                failure = Some(leasebench::run::error_chain(&e));
                let _ = rt.block_on(server.shutdown());
                break;
            }
        };
        let version = info
            .pg_version
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_string();
        'sweep: for sc in &scenarios {
            for strategy in &plan.strategies {
                for index in &plan.indexes {
                    let mut group = criterion.benchmark_group(format!(
                        "{}/pg{}/{}/{}",
                        sc.name, version, strategy.name, index.name
                    ));
                    for &workers in &plan.workers {
                        // A seed-profile iteration is a round of one item per
                        // worker: a batch lasts at least the 100 ms of work
                        // whatever its size, so a one-item iteration would
                        // leave all but one worker idle.
                        let per_iter = if sc.work.is_zero() { 1 } else { workers as u64 };
                        group.throughput(Throughput::Elements(per_iter));
                        if interrupt.is_set() {
                            break 'sweep;
                        }
                        let spec = spec_for(&plan, sc, &info.pg_version, strategy, index, workers);
                        let mut session: Option<CellSession> = None;
                        let mut error = None;
                        group.bench_with_input(
                            BenchmarkId::from_parameter(workers),
                            &workers,
                            |b, _| {
                                b.iter_custom(|iters| {
                                    rt.block_on(timed_batch(
                                        &server,
                                        &setup,
                                        &spec,
                                        sc,
                                        &mut session,
                                        iters * per_iter,
                                        &interrupt,
                                    ))
                                    .unwrap_or_else(|e| {
                                        error.get_or_insert(leasebench::run::error_chain(&e));
                                        interrupt.trigger();
                                        Duration::from_nanos(1)
                                    })
                                })
                            },
                        );
                        if let Some(s) = session {
                            match rt.block_on(s.finish()) {
                                Ok(cell) => run.cells.push(cell),
                                Err(e) => error = Some(leasebench::run::error_chain(&e)),
                            }
                        }
                        if let Some(e) = error {
                            failure = Some(e);
                            break 'sweep;
                        }
                    }
                    group.finish();
                }
            }
        }
        drop(setup);
        if let Err(e) = rt.block_on(server.shutdown()) {
            failure.get_or_insert(leasebench::run::error_chain(&e));
        }
        if failure.is_some() || interrupt.is_set() {
            break;
        }
    }
    if interrupt.is_set() && failure.is_none() {
        failure = Some("interrupted (Ctrl-C)".into());
    }
    run.end(wall, failure.clone());
    report(&run, &plan);
    eprintln!(
        "skip_locked: bench wall time {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    if let Some(f) = failure {
        fail(f);
    }
}

fn spec_for(
    plan: &Plan,
    sc: &Scenario,
    pg_version: &str,
    strategy: &leasebench::strategy::Strategy,
    index: &leasebench::strategy::IndexVariant,
    workers: u32,
) -> CellSpec {
    CellSpec {
        // saturation keeps the queue fed like a duration run; seed leases
        // exactly the items each sample seeds, as the seed's test does.
        mode: if sc.work.is_zero() {
            Mode::Duration(Duration::from_secs(1))
        } else {
            Mode::Items {
                items: 1,
                max: Duration::from_secs(120),
            }
        },
        work: sc.work,
        pacing: Pacing::Closed,
        chaos: Default::default(),
        ..CellSpec::from_plan(plan, sc.name, pg_version, strategy, index, workers)
    }
}

/// One Criterion sample: `items` leases on the cell's parked workers.
/// Returns the time for `items` leases (scaled when a saturation batch
/// overshoots by the cycles in flight when it was stopped).
async fn timed_batch<'a>(
    server: &'a Server,
    setup: &'a tokio_postgres::Client,
    spec: &CellSpec,
    sc: &Scenario,
    session: &mut Option<CellSession<'a>>,
    items: u64,
    interrupt: &Interrupt,
) -> leasebench::Result<Duration> {
    if interrupt.is_set() {
        return Ok(Duration::from_nanos(1));
    }
    if session.is_none() {
        let initial = if sc.work.is_zero() {
            spec.queue_depth
        } else {
            0
        };
        *session = Some(CellSession::start(server, setup, spec, initial).await?);
    }
    let s = session.as_mut().expect("started above");
    if !sc.work.is_zero() {
        s.seed(items).await?;
    }
    let out = s
        .batch(
            Until::Completed {
                items,
                max: Duration::from_secs(120),
            },
            interrupt,
            &(),
        )
        .await?;
    if out.completed == 0 {
        return Ok(out.elapsed);
    }
    Ok(out.elapsed.mul_f64(items as f64 / out.completed as f64))
}

fn report(run: &RunResult, plan: &Plan) {
    if run.cells.is_empty() {
        eprintln!("skip_locked: no cells ran (filtered out, or stopped before the first)");
        return;
    }
    let saved = match run.save(&plan.out) {
        Ok(s) => s,
        Err(e) => fail(leasebench::run::error_chain(&e)),
    };
    println!();
    print!("{}", leasebench::report::table::render(run));
    match leasebench::report::plot::draw_all(run, &plan.out) {
        Ok(files) => {
            for f in files {
                println!("plot: {}", f.display());
            }
        }
        Err(e) => eprintln!(
            "skip_locked: plots not drawn: {}",
            leasebench::run::error_chain(&e)
        ),
    }
    println!(
        "results: {} and {}",
        saved.json.display(),
        saved.csv.display()
    );
    println!(
        "\nSLA verdict (sla.toml; `leasebench check {}` to gate on it):",
        saved.json.display()
    );
    match leasebench::check::cli(&saved.json, None) {
        Ok(0) => println!("SLA: PASS"),
        Ok(_) => println!("SLA: FAIL"),
        Err(e) => eprintln!(
            "skip_locked: SLA not judged: {}",
            leasebench::run::error_chain(&e)
        ),
    }
}
