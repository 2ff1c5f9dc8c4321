//! Running one cell: reset the table, connect and prepare every worker
//! outside the measured time, start them together, stop them on time (or
//! when every item is done, or on Ctrl-C), then gather histograms, server
//! counters and the audit.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

use crate::audit::{self, FinalState, LeaseEvent, Rules};
use crate::config::{Mode, Pacing};
use crate::error::{Error, ErrorClass, Result};
use crate::metrics::{self, Metric, Recorder, Summary};
use crate::observe;
use crate::pg::Server;
use crate::results::CellResult;
use crate::schema;
use crate::strategy::{IndexVariant, Strategy};
use crate::workload::producer;
use crate::workload::worker::{self, Shared, Slot, WorkerCtx, WorkerOut};

/// A Ctrl-C (or a test) asking the run to stop; cloned freely.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// Trigger on Ctrl-C (SIGINT) and SIGTERM.
    pub fn on_signals(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term_fut = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term_fut => {}
            }
            eprintln!("\nleasebench: stopping (saving what was measured, stopping Postgres)...");
            me.trigger();
        });
    }
}

/// One cell to run.
#[derive(Debug, Clone)]
pub struct CellSpec {
    /// Profile name recorded with the cell (`run`, `saturation`, `seed`).
    pub scenario: String,
    pub pg_version: String,
    pub schema: String,
    pub strategy: Strategy,
    pub index: IndexVariant,
    pub workers: u32,
    pub mode: Mode,
    pub work: Duration,
    pub lease_ms: u64,
    pub batch: u32,
    pub queue_depth: u64,
    pub pacing: Pacing,
}

/// Live progress for a UI (the run's progress bar).
pub trait Progress: Send + Sync {
    /// Called about ten times a second while a cell runs.
    fn tick(&self, elapsed: Duration, leased: u64, completed: u64);
}

impl Progress for () {
    fn tick(&self, _: Duration, _: u64, _: u64) {}
}

enum Go {
    Wait,
    Start(Instant),
    Abort,
}

/// Run one cell. `setup` is the run's schema connection (search_path set).
pub async fn run_cell(
    server: &Server,
    setup: &Client,
    spec: &CellSpec,
    interrupt: &Interrupt,
    progress: &dyn Progress,
) -> Result<CellResult> {
    let initial = match spec.mode {
        Mode::Duration(_) => spec.queue_depth,
        Mode::Items { items, .. } => items,
    };
    let first = schema::reset_cell(setup, &spec.index, initial).await?;
    let before = observe::snapshot(setup).await?;
    let n = spec.workers as usize;
    let pool = server.pool("leasebench-worker", &spec.schema, n + 2)?;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        remaining: match spec.mode {
            Mode::Items { items, .. } => Some(AtomicI64::new(items as i64)),
            Mode::Duration(_) => None,
        },
        slots: (0..n).map(|_| Slot::default()).collect(),
    });
    let expected_events = match spec.mode {
        Mode::Items { items, .. } => (items as usize / n + 16).min(1 << 20),
        Mode::Duration(d) => (d.as_secs_f64() * 2000.0) as usize,
    };
    let (ready_tx, mut ready_rx) = mpsc::channel::<std::result::Result<i32, String>>(n);
    let (go_tx, go_rx) = watch::channel(Go::Wait);
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let ctx = WorkerCtx {
            index: i,
            shared: shared.clone(),
            pool: pool.clone(),
            strategy: spec.strategy.clone(),
            lease_ms: spec.lease_ms,
            batch: spec.batch,
            work: spec.work,
            pacing: spec.pacing,
            expected_events,
        };
        let ready = ready_tx.clone();
        let mut go = go_rx.clone();
        handles.push(tokio::spawn(async move {
            let (client, prepared, pid) = match worker::setup(&ctx).await {
                Ok(x) => x,
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    return None;
                }
            };
            let _ = ready.send(Ok(pid)).await;
            drop(ready);
            let start = loop {
                match *go.borrow_and_update() {
                    Go::Start(t) => break Some(t),
                    Go::Abort => break None,
                    Go::Wait => {}
                }
                if go.changed().await.is_err() {
                    break None;
                }
            }?;
            Some(worker::run(ctx, client, prepared, start).await)
        }));
    }
    drop(ready_tx);
    let mut pids = Vec::with_capacity(n);
    let mut setup_error = None;
    while let Some(r) = ready_rx.recv().await {
        match r {
            Ok(pid) => pids.push(pid),
            Err(e) => {
                setup_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = setup_error {
        let _ = go_tx.send(Go::Abort);
        for h in handles {
            let _ = h.await;
        }
        pool.close();
        return Err(Error::Cluster(e));
    }

    let observers_stop = Arc::new(AtomicBool::new(false));
    let sampler_client = server.connect("leasebench-observer").await?;
    let sampler = tokio::spawn(observe::sample_waits(
        sampler_client,
        pids.clone(),
        Duration::from_millis(50),
        observers_stop.clone(),
    ));
    let producer = match spec.mode {
        Mode::Duration(_) => {
            let c = server
                .connect_schema("leasebench-producer", &spec.schema)
                .await?;
            Some(tokio::spawn(producer::run(
                c,
                shared.clone(),
                initial,
                spec.queue_depth,
            )))
        }
        Mode::Items { .. } => None,
    };

    let start = Instant::now();
    let _ = go_tx.send(Go::Start(start));
    let mut interrupted = false;
    let mut timed_out = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        let leased: u64 = shared
            .slots
            .iter()
            .map(|s| s.leased.load(Ordering::Relaxed))
            .sum();
        let completed: u64 = shared
            .slots
            .iter()
            .map(|s| s.completed.load(Ordering::Relaxed))
            .sum();
        progress.tick(elapsed, leased, completed);
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if interrupt.is_set() {
            interrupted = true;
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        match spec.mode {
            Mode::Duration(d) if elapsed >= d => {
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
            Mode::Items { max, .. } if elapsed >= max => {
                timed_out = true;
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
            _ => {}
        }
    }
    let mut outs: Vec<WorkerOut> = Vec::with_capacity(n);
    for h in handles {
        match h.await {
            Ok(Some(o)) => outs.push(o),
            Ok(None) => {}
            Err(e) => return Err(Error::Internal(format!("a worker panicked: {e}"))),
        }
    }
    let duration = start.elapsed();
    observers_stop.store(true, Ordering::Relaxed);
    let prod = match producer {
        Some(p) => p
            .await
            .map_err(|e| Error::Internal(format!("producer panicked: {e}")))?,
        None => producer::ProducerOut::default(),
    };
    let (wait_events, wait_samples) = sampler.await.unwrap_or_default();
    // Close the workers' connections so their statistics are flushed.
    pool.close();
    drop(pool);
    observe::wait_backends_gone(setup, &pids, Duration::from_secs(3)).await;
    let after = observe::snapshot(setup).await?;

    let mut rec = Recorder::default();
    let mut events: Vec<LeaseEvent> = Vec::with_capacity(outs.iter().map(|o| o.events.len()).sum());
    let mut errors = [0u64; ErrorClass::ALL.len()];
    let (mut leased, mut completed, mut empty, mut calls) = (0, 0, 0, 0);
    let mut last_error = None;
    for o in &mut outs {
        rec.merge(&o.rec);
        events.append(&mut o.events);
        for (a, b) in errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        leased += o.leased;
        completed += o.completed;
        empty += o.empty_polls;
        calls += o.lease_calls;
        if o.last_error.is_some() {
            last_error = o.last_error.clone();
        }
    }
    drop(outs);
    let mut seeded = vec![(first.first, first.last)];
    seeded.extend(prod.ranges.iter().map(|r| (r.first, r.last)));
    let table = final_states(setup).await?;
    let audit = audit::audit(
        &seeded,
        &mut events,
        &table,
        Rules {
            lease_us: spec.lease_ms * 1000,
            consume: spec.strategy.consume,
        },
    );
    let secs = duration.as_secs_f64().max(1e-9);
    let errors_total: u64 = errors.iter().sum();
    let mut notes = Vec::new();
    let queue_ran_dry = matches!(spec.mode, Mode::Duration(_)) && empty > 0;
    if queue_ran_dry {
        notes.push(format!(
            "the queue ran dry: {empty} lease calls found nothing (the producer fell behind)"
        ));
    }
    if timed_out {
        notes.push(format!(
            "stopped after {:?} with {} of {} items completed",
            duration,
            completed,
            match spec.mode {
                Mode::Items { items, .. } => items,
                _ => 0,
            }
        ));
    }
    if let Some(e) = &prod.error {
        notes.push(format!("producer error: {e}"));
    }
    if errors_total > 0 {
        if let Some(e) = last_error {
            notes.push(format!("{errors_total} errors; last: {e}"));
        }
    }
    if interrupted {
        notes.push("interrupted (Ctrl-C): partial cell".into());
    }
    let histograms: BTreeMap<String, String> = Metric::ALL
        .iter()
        .map(|m| (m.name().to_string(), metrics::encode(rec.get(*m))))
        .collect();
    Ok(CellResult {
        scenario: spec.scenario.clone(),
        pg_version: spec.pg_version.clone(),
        strategy: spec.strategy.name.clone(),
        index: spec.index.name.clone(),
        workers: spec.workers,
        work_ms: spec.work.as_millis() as u64,
        lease_ms: spec.lease_ms,
        batch: if spec.strategy.batch { spec.batch } else { 1 },
        mode: spec.mode,
        pacing: spec.pacing,
        duration_s: secs,
        leased,
        completed,
        lease_calls: calls,
        throughput_per_s: completed as f64 / secs,
        commits_per_s: before.delta(&after).commits as f64 / secs,
        empty_polls: empty,
        queue_ran_dry,
        errors: ErrorClass::ALL
            .iter()
            .filter(|c| errors[c.index()] > 0)
            .map(|c| (c.name().to_string(), errors[c.index()]))
            .collect(),
        errors_total,
        lease: Summary::of(rec.get(Metric::Lease)),
        complete: Summary::of(rec.get(Metric::Complete)),
        cycle: Summary::of(rec.get(Metric::Cycle)),
        pickup_lag: Summary::of(rec.get(Metric::PickupLag)),
        empty_lease: Summary::of(rec.get(Metric::EmptyLease)),
        histograms,
        server: before.delta(&after),
        wait_events,
        wait_samples,
        audit,
        plans: Vec::new(),
        notes,
        partial: interrupted,
    })
}

/// Every row's state at the end of the cell.
async fn final_states(client: &Client) -> Result<HashMap<i64, FinalState>> {
    let rows = client
        .query(
            "SELECT id, CASE WHEN status = 'completed' THEN 3
                             WHEN status = 'failed' THEN 4
                             WHEN locked_until > now() THEN 1
                             WHEN status = 'running' THEN 2
                             ELSE 0 END::int
               FROM due_work",
            &[],
        )
        .await
        .map_err(|e| Error::db("cannot read due_work for the audit", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let state = match r.get::<_, i32>(1) {
                0 => FinalState::Pending,
                1 => FinalState::Leased,
                2 => FinalState::Expired,
                3 => FinalState::Completed,
                _ => FinalState::Failed,
            };
            (r.get::<_, i64>(0), state)
        })
        .collect())
}
