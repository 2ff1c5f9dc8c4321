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
use crate::config::{Chaos, Mode, Pacing};
use crate::error::{Error, ErrorClass, Result};
use crate::metrics::{self, Metric, Recorder, Summary};
use crate::observe;
use crate::pg::Server;
use crate::plan::{self, PlanCapture};
use crate::results::CellResult;
use crate::schema;
use crate::strategy::{IndexVariant, Strategy};
use crate::workload::producer;
use crate::workload::worker::{self, Go, Shared, Slot, WorkerCtx, WorkerOut};

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
    /// Faults to inject (none in the bench).
    pub chaos: Chaos,
}

impl CellSpec {
    /// The cell of `plan` for this version, strategy, index and worker count.
    pub fn from_plan(
        plan: &crate::config::Plan,
        scenario: &str,
        pg_version: &str,
        strategy: &Strategy,
        index: &IndexVariant,
        workers: u32,
    ) -> CellSpec {
        CellSpec {
            scenario: scenario.to_string(),
            pg_version: pg_version.to_string(),
            schema: plan.schema.clone(),
            strategy: strategy.clone(),
            index: index.clone(),
            workers,
            mode: plan.mode,
            work: plan.work,
            lease_ms: plan.lease_ms,
            batch: plan.batch,
            queue_depth: plan.queue_depth,
            pacing: plan.pacing(workers),
            chaos: plan.chaos,
        }
    }
}

/// Live progress for a UI (the run's progress bar).
pub trait Progress: Send + Sync {
    /// Called about ten times a second while a cell runs.
    fn tick(&self, elapsed: Duration, leased: u64, completed: u64);
}

impl Progress for () {
    fn tick(&self, _: Duration, _: u64, _: u64) {}
}

/// When a batch ends.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// When this many items have been completed, or after `max`.
    Completed { items: u64, max: Duration },
}

/// What one batch measured.
#[derive(Debug, Clone, Copy)]
pub struct BatchOut {
    /// From the start signal until every worker was parked again.
    pub elapsed: Duration,
    /// Items completed in the batch.
    pub completed: u64,
    pub interrupted: bool,
    pub timed_out: bool,
}

/// One cell with its workers connected and parked between batches, so a
/// caller (the bench's `iter_custom`) can time many batches on the same
/// connections; `finish` merges everything into one [`CellResult`].
pub struct CellSession<'a> {
    server: &'a Server,
    setup: &'a Client,
    spec: CellSpec,
    shared: Arc<Shared>,
    pool: deadpool_postgres::Pool,
    go: watch::Sender<Go>,
    parked: mpsc::UnboundedReceiver<()>,
    handles: Vec<tokio::task::JoinHandle<WorkerOut>>,
    observers_stop: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<(BTreeMap<String, u64>, u64)>,
    producer: tokio::task::JoinHandle<producer::ProducerOut>,
    seq: u64,
    before: observe::Counters,
    seeded: Vec<(i64, i64)>,
    measured: Duration,
    interrupted: bool,
    timed_out: bool,
    plans: Vec<PlanCapture>,
    chaos: ChaosReport,
    kill_done: bool,
    restart_done: bool,
    /// Completions the workers did not see (answer lost to a fault) found
    /// by checking the table.
    finished_by_table: bool,
}

impl<'a> CellSession<'a> {
    /// Reset the table, seed `initial` items, capture the lease plan on the
    /// fresh table, connect and prepare every worker, start the observers
    /// (and, in duration mode, the producer). Nothing here is measured.
    pub async fn start(
        server: &'a Server,
        setup: &'a Client,
        spec: &CellSpec,
        initial: u64,
    ) -> Result<CellSession<'a>> {
        let rendered = spec.strategy.render(spec.lease_ms, spec.batch);
        let first =
            schema::reset_cell(setup, &spec.index, &spec.strategy, &rendered.setup, initial)
                .await?;
        let mut plans = Vec::new();
        if initial > 0 {
            plans.push(plan::capture(server, spec, "fresh").await?);
        }
        let n = spec.workers as usize;
        let pool = server.pool(&worker_app(&spec.schema), &spec.schema, n + 2)?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            remaining: AtomicI64::new(i64::MAX),
            slots: (0..n).map(|_| Slot::default()).collect(),
        });
        let expected_events = match spec.mode {
            Mode::Items { items, .. } => (items as usize / n + 16).min(1 << 20),
            Mode::Duration(d) => ((d.as_secs_f64() * 4000.0) as usize / n + 64).min(1 << 20),
        };
        let (ready_tx, mut ready_rx) = mpsc::channel::<std::result::Result<(), String>>(n);
        let (go_tx, go_rx) = watch::channel(Go::Wait);
        let (parked_tx, parked_rx) = mpsc::unbounded_channel();
        let epoch = Instant::now();
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
                abandon_pct: spec.chaos.abandon_pct,
            };
            let ready = ready_tx.clone();
            let go = go_rx.clone();
            let parked = parked_tx.clone();
            handles.push(tokio::spawn(async move {
                let (client, prepared) = match worker::setup(&ctx).await {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = ready.send(Err(e)).await;
                        return WorkerOut::default();
                    }
                };
                let _ = ready.send(Ok(())).await;
                drop(ready);
                worker::run(ctx, client, prepared, epoch, go, parked).await
            }));
        }
        drop(ready_tx);
        let mut setup_error = None;
        while let Some(r) = ready_rx.recv().await {
            if let Err(e) = r {
                setup_error.get_or_insert(e);
            }
        }
        if let Some(e) = setup_error {
            let _ = go_tx.send(Go::Stop);
            for h in handles {
                let _ = h.await;
            }
            pool.close();
            return Err(Error::Cluster(e));
        }
        let before = observe::snapshot(setup).await?;
        let observers_stop = Arc::new(AtomicBool::new(false));
        let producer_config = server.config_for("leasebench-producer", Some(&spec.schema));
        let producer_client = crate::pg::connect(&producer_config, &server.label).await?;
        let sampler_client = server.connect_observer("leasebench-observer").await?;
        let sampler = tokio::spawn(observe::sample_waits(
            sampler_client,
            worker_app(&spec.schema),
            Duration::from_millis(50),
            observers_stop.clone(),
        ));
        // Expired leases come back at about a quarter of the lease length
        // (at most once a second, at least every 100 ms).
        let rescue_every = Duration::from_millis((spec.lease_ms / 4).clamp(100, 1000));
        let producer = tokio::spawn(producer::run(
            producer::ProducerCtx {
                config: producer_config,
                shared: shared.clone(),
                seeded: initial,
                depth: match spec.mode {
                    Mode::Duration(_) => Some(spec.queue_depth),
                    Mode::Items { .. } => None,
                },
                rescue: rendered.rescue.clone(),
                rescue_every,
                stop: observers_stop.clone(),
            },
            producer_client,
        ));
        Ok(CellSession {
            server,
            setup,
            spec: spec.clone(),
            shared,
            pool,
            go: go_tx,
            parked: parked_rx,
            handles,
            observers_stop,
            sampler,
            producer,
            seq: 0,
            before,
            seeded: if initial > 0 {
                vec![(first.first, first.last)]
            } else {
                Vec::new()
            },
            measured: Duration::ZERO,
            interrupted: false,
            timed_out: false,
            plans,
            chaos: ChaosReport::default(),
            kill_done: false,
            restart_done: false,
            finished_by_table: false,
        })
    }

    /// Add `n` due items (outside any measured time). A cell that started
    /// empty takes its "fresh" plan after its first seeding.
    pub async fn seed(&mut self, n: u64) -> Result<()> {
        if n > 0 {
            let r = schema::insert_items(self.setup, n).await?;
            self.seeded.push((r.first, r.last));
            if self.plans.is_empty() {
                self.plans
                    .push(plan::capture(self.server, &self.spec, "fresh").await?);
            }
        }
        Ok(())
    }

    fn counts(&self) -> (u64, u64) {
        let leased = self
            .shared
            .slots
            .iter()
            .map(|s| s.leased.load(Ordering::Relaxed))
            .sum();
        let completed = self
            .shared
            .slots
            .iter()
            .map(|s| s.completed.load(Ordering::Relaxed))
            .sum();
        (leased, completed)
    }

    /// Start every worker together and run until `until` (or Ctrl-C); wait
    /// until all are parked again.
    pub async fn batch(
        &mut self,
        until: Until,
        interrupt: &Interrupt,
        progress: &dyn Progress,
    ) -> Result<BatchOut> {
        let (_, done_before) = self.counts();
        self.shared.stop.store(false, Ordering::SeqCst);
        let (limit, items) = match until {
            Until::Elapsed(d) => (d, None),
            Until::Completed { items, max } => (max, Some(items)),
        };
        self.shared.remaining.store(
            items.map(|i| i as i64).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
        self.seq += 1;
        let start = Instant::now();
        let _ = self.go.send(Go::Batch {
            seq: self.seq,
            start,
        });
        let mut out = BatchOut {
            elapsed: Duration::ZERO,
            completed: 0,
            interrupted: false,
            timed_out: false,
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let n = self.handles.len();
        let mut parked = 0;
        loop {
            tokio::select! {
                p = self.parked.recv() => {
                    if p.is_none() {
                        return Err(Error::Internal("workers ended unexpectedly".into()));
                    }
                    parked += 1;
                    if parked == n {
                        break;
                    }
                }
                _ = tick.tick() => {
                    let elapsed = start.elapsed();
                    let (leased, completed) = self.counts();
                    progress.tick(elapsed, leased, completed - done_before);
                    if interrupt.is_set() && !out.interrupted {
                        out.interrupted = true;
                        self.shared.stop.store(true, Ordering::SeqCst);
                    }
                    if elapsed >= limit && !self.shared.stop.load(Ordering::SeqCst) {
                        out.timed_out = items.is_some();
                        self.shared.stop.store(true, Ordering::SeqCst);
                    }
                    let done = completed - done_before;
                    let progressed = match items {
                        Some(i) => done as f64 / i.max(1) as f64,
                        None => elapsed.as_secs_f64() / limit.as_secs_f64().max(1e-9),
                    };
                    self.inject(progressed).await?;
                    if let Some(i) = items {
                        // A fault can lose the answer to a completion that
                        // committed: the workers then never count to `i`.
                        if done < i && elapsed.as_millis() / 100 % 10 == 9 && self.nothing_left().await {
                            // Re-read: the last completions may have landed
                            // while the table was being checked.
                            if self.counts().1 - done_before < i {
                                self.finished_by_table = true;
                            }
                            self.shared.stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            }
        }
        out.elapsed = start.elapsed();
        out.completed = self.counts().1 - done_before;
        self.measured += out.elapsed;
        self.interrupted |= out.interrupted;
        self.timed_out |= out.timed_out;
        Ok(out)
    }

    /// `--chaos`: kill worker backends a third of the way in, restart the
    /// server half way.
    async fn inject(&mut self, progressed: f64) -> Result<()> {
        let chaos = self.spec.chaos;
        if chaos.kill > 0 && !self.kill_done && progressed >= 0.3 {
            self.kill_done = true;
            self.chaos.killed += kill_workers(self.server, &self.spec.schema, chaos.kill).await?;
        }
        if chaos.restart && !self.restart_done && progressed >= 0.5 {
            self.restart_done = true;
            self.server.restart().await?;
            self.chaos.restarts += 1;
        }
        Ok(())
    }

    /// No row is left to process (pending or under a lease).
    async fn nothing_left(&self) -> bool {
        let Ok(c) = self.audit_client().await else {
            return false;
        };
        let q = "SELECT count(*) FROM due_work WHERE status NOT IN ('completed', 'failed')";
        matches!(c.client().query_one(q, &[]).await, Ok(r) if r.get::<_, i64>(0) == 0)
    }

    /// The run's schema connection, or a fresh one if a fault closed it.
    async fn audit_client(&self) -> Result<AuditClient<'a>> {
        if !self.setup.is_closed() {
            return Ok(AuditClient::Borrowed(self.setup));
        }
        Ok(AuditClient::Owned(
            self.server
                .connect_schema("leasebench-audit", &self.spec.schema)
                .await?,
        ))
    }

    /// Stop the workers, close their connections (flushing their
    /// statistics), and gather histograms, counters, plans and the audit.
    pub async fn finish(mut self) -> Result<CellResult> {
        let _ = self.go.send(Go::Stop);
        let mut outs: Vec<WorkerOut> = Vec::with_capacity(self.handles.len());
        for h in self.handles.drain(..) {
            outs.push(
                h.await
                    .map_err(|e| Error::Internal(format!("a worker panicked: {e}")))?,
            );
        }
        self.observers_stop.store(true, Ordering::Relaxed);
        let prod = (&mut self.producer)
            .await
            .map_err(|e| Error::Internal(format!("producer panicked: {e}")))?;
        let (wait_events, wait_samples) = (&mut self.sampler).await.unwrap_or_default();
        self.pool.close();
        // What only the server can tell. If it is gone for good, keep what
        // the workers measured and say why the rest is missing.
        let server_side = async {
            let audit_client = self.audit_client().await?;
            let setup = audit_client.client();
            let watcher = self.server.connect_observer("leasebench-observer").await?;
            let app = worker_app(&self.spec.schema);
            observe::wait_backends_gone(&watcher, &app, Duration::from_secs(3)).await;
            let after = observe::snapshot(setup).await?;
            let plan_after = if self.interrupted {
                None
            } else {
                Some(plan::capture(self.server, &self.spec, "after").await?)
            };
            let table = final_states(setup).await?;
            Ok::<_, Error>((after, plan_after, table))
        }
        .await;
        let (after, table, server_lost) = match server_side {
            Ok((after, plan_after, table)) => {
                self.plans.extend(plan_after);
                (after, Some(table), None)
            }
            Err(e) => (self.before.clone(), None, Some(crate::run::error_chain(&e))),
        };
        let spec = &self.spec;

        let mut rec = Recorder::default();
        let mut events: Vec<LeaseEvent> =
            Vec::with_capacity(outs.iter().map(|o| o.events.len()).sum());
        let mut errors = [0u64; ErrorClass::ALL.len()];
        let (mut leased, mut completed, mut empty, mut calls, mut stale) = (0, 0, 0, 0, 0);
        let mut last_error = None;
        for o in &mut outs {
            self.chaos.abandoned += o.abandoned;
            self.chaos.reconnects += o.reconnects;
            stale += o.stale_completions;
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
        let mut seeded = self.seeded.clone();
        seeded.extend(prod.ranges.iter().map(|r| (r.first, r.last)));
        let audit = match &table {
            Some(table) => audit::audit(
                &seeded,
                &mut events,
                table,
                Rules {
                    // A session lock does not expire: it lasts until unlock
                    // or until its connection goes.
                    lease_us: if spec.strategy.lease_ends_with_connection {
                        u64::MAX
                    } else {
                        spec.lease_ms * 1000
                    },
                    consume: spec.strategy.consume,
                    completes_by_delete: spec.strategy.completes_by_delete,
                },
            ),
            None => audit::Audit::default(),
        };
        let secs = self.measured.as_secs_f64().max(1e-9);
        let errors_total: u64 = errors.iter().sum();
        let mut notes = Vec::new();
        if let Some(e) = &server_lost {
            notes.push(format!(
                "the server could not be reached after the cell ({e}): latencies are the workers', but there are no server counters and no audit"
            ));
        }
        // Dry: the producer saw fewer items queued than the workers could
        // take in one round. Empty polls with a full queue mean every
        // candidate was locked by others (or a re-check failed).
        let per_lease = if spec.strategy.batch {
            spec.batch as u64
        } else {
            1
        };
        let queue_ran_dry = matches!(spec.mode, Mode::Duration(_))
            && empty > 0
            && prod
                .min_queued
                .is_some_and(|m| m < spec.workers as u64 * per_lease);
        if queue_ran_dry {
            notes.push(format!(
                "the queue ran dry: {empty} lease calls found nothing (the producer fell behind)"
            ));
        } else if matches!(spec.mode, Mode::Duration(_)) && empty > 0 {
            notes.push(format!(
                "{empty} lease calls found nothing while items were queued (every candidate locked by another worker, or the re-check failed)"
            ));
        }
        if stale > 0 {
            notes.push(format!(
                "{stale} completions matched no row (their lease had expired and the item moved on)"
            ));
        }
        if audit.leased_after_completion > 0 {
            notes.push(format!(
                "{} leases handed out an item that was already completed",
                audit.leased_after_completion
            ));
        }
        if self.timed_out {
            notes.push(format!(
                "stopped after {:.1} s with {completed} of {} items completed",
                secs, audit.seeded
            ));
        }
        self.chaos.rescued = prod.rescued;
        if self.finished_by_table {
            notes.push(format!(
                "no row was left to process when the workers had counted {completed} of {} completions (the rest were lost, or their answers were)",
                audit.seeded
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
        if self.interrupted {
            notes.push("interrupted (Ctrl-C): partial cell".into());
        }
        let histograms: BTreeMap<String, String> = Metric::ALL
            .iter()
            .map(|m| (m.name().to_string(), metrics::encode(rec.get(*m))))
            .collect();
        let server = self.before.delta(&after);
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
            commits_per_s: server.commits as f64 / secs,
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
            server,
            wait_events,
            wait_samples,
            audit,
            plans: std::mem::take(&mut self.plans),
            chaos: std::mem::take(&mut self.chaos),
            stale_completions: stale,
            notes,
            partial: self.interrupted || server_lost.is_some(),
        })
    }
}

impl Drop for CellSession<'_> {
    fn drop(&mut self) {
        // On an early return, do not leave workers parked forever.
        let _ = self.go.send(Go::Stop);
        self.observers_stop.store(true, Ordering::Relaxed);
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// The application_name of a schema's workers (so fault injection finds
/// them, and only them, on a shared server).
fn worker_app(schema: &str) -> String {
    format!("leasebench-worker/{schema}")
}

/// Terminate up to `n` of the schema's worker backends, chosen at random;
/// returns how many were terminated.
async fn kill_workers(server: &Server, schema: &str, n: u32) -> Result<u64> {
    let c = server.connect("leasebench-chaos").await?;
    let rows = c
        .query(
            "SELECT pg_terminate_backend(pid) FROM (
               SELECT pid FROM pg_stat_activity
                WHERE application_name = $1 AND datname = current_database()
                ORDER BY random() LIMIT $2) victims",
            &[&worker_app(schema), &(n as i64)],
        )
        .await
        .map_err(|e| Error::db("--chaos kill: cannot terminate worker backends", e))?;
    Ok(rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64)
}

/// What `--chaos` did in a cell.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChaosReport {
    /// Worker backends terminated.
    pub killed: u64,
    /// Leases dropped without completing.
    pub abandoned: u64,
    /// Server restarts.
    pub restarts: u64,
    /// Times workers replaced a lost connection.
    pub reconnects: u64,
    /// Rows the rescuer made available again after their lease expired.
    pub rescued: u64,
}

/// Run one cell the way `leasebench run` does: one batch, for the
/// duration or until every item is done.
pub async fn run_cell(
    server: &Server,
    setup: &Client,
    spec: &CellSpec,
    interrupt: &Interrupt,
    progress: &dyn Progress,
) -> Result<CellResult> {
    let (initial, until) = match spec.mode {
        Mode::Duration(d) => (spec.queue_depth, Until::Elapsed(d)),
        Mode::Items { items, max } => (items, Until::Completed { items, max }),
    };
    let mut session = CellSession::start(server, setup, spec, initial).await?;
    session.batch(until, interrupt, progress).await?;
    session.finish().await
}

/// The run's connection, or one opened because a fault closed it.
enum AuditClient<'a> {
    Borrowed(&'a Client),
    Owned(Client),
}

impl AuditClient<'_> {
    fn client(&self) -> &Client {
        match self {
            AuditClient::Borrowed(c) => c,
            AuditClient::Owned(c) => c,
        }
    }
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
