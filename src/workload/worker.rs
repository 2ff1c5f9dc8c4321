//! One worker: its own connection, its own histograms, one loop
//! parameterised by a pacing policy. Lease -> simulated work -> complete.
//!
//! The loop allocates nothing per lease beyond what the driver reserved
//! (event and id buffers are reused) and shares no lock: progress goes
//! through the worker's own padded atomic slot.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::audit::{LeaseEvent, NOT_DONE};
use crate::config::Pacing;
use crate::error::ErrorClass;
use crate::metrics::{Metric, Recorder};
use crate::strategy::Strategy;

/// A worker's live counters, on their own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Slot {
    pub leased: AtomicU64,
    pub completed: AtomicU64,
}

/// Shared, read-mostly state of a cell.
#[derive(Debug)]
pub struct Shared {
    /// Set to end the cell; workers finish the cycle they are in.
    pub stop: AtomicBool,
    /// Items to complete in this batch (`i64::MAX` when the batch ends on
    /// time instead); the worker that takes it to zero stops the batch.
    pub remaining: AtomicI64,
    pub slots: Vec<Slot>,
}

/// What a worker hands back.
#[derive(Debug, Default)]
pub struct WorkerOut {
    pub rec: Recorder,
    pub events: Vec<LeaseEvent>,
    pub leased: u64,
    pub lease_calls: u64,
    pub completed: u64,
    pub empty_polls: u64,
    pub errors: [u64; ErrorClass::ALL.len()],
    /// The last error's text, to show if the cell cannot go on.
    pub last_error: Option<String>,
    /// Items leased and dropped on purpose (`--chaos abandon`).
    pub abandoned: u64,
    /// Times the worker replaced a lost connection.
    pub reconnects: u64,
    /// Completions that matched no row (the lease had expired meanwhile).
    pub stale_completions: u64,
    /// When the current connection last answered (µs since the epoch).
    pub last_ok_us: u64,
}

/// A strategy's statements prepared on one connection.
pub struct Prepared {
    lease: Vec<Statement>,
    complete: Vec<Statement>,
    release: Vec<Statement>,
    id_col: usize,
    run_at_col: Option<usize>,
    lease_txn: bool,
    batch: bool,
    consume: bool,
}

async fn prepare_all(
    client: &deadpool_postgres::Client,
    strategy: &Strategy,
    section: &str,
    sqls: &[String],
) -> Result<Vec<Statement>, String> {
    let mut out = Vec::with_capacity(sqls.len());
    for sql in sqls {
        out.push(client.prepare_cached(sql).await.map_err(|e| {
            format!(
                "strategy {} ({}): {section} statement does not prepare: {}",
                strategy.name,
                strategy.source,
                crate::schema::format_db_error(&e)
            )
        })?);
    }
    Ok(out)
}

impl Prepared {
    pub async fn new(
        client: &deadpool_postgres::Client,
        strategy: &Strategy,
        lease_ms: u64,
        batch: u32,
    ) -> Result<Prepared, String> {
        let r = strategy.render(lease_ms, batch);
        let lease = prepare_all(client, strategy, "lease", &r.lease).await?;
        let complete = prepare_all(client, strategy, "complete", &r.complete).await?;
        let release = prepare_all(client, strategy, "release", &r.release).await?;
        let cols = lease[0].columns();
        let id_col = cols.iter().position(|c| c.name() == "id").ok_or_else(|| {
            format!(
                "strategy {} ({}): the first lease statement must return a column named id",
                strategy.name, strategy.source
            )
        })?;
        let run_at_col = cols.iter().position(|c| c.name() == "run_at");
        Ok(Prepared {
            lease,
            complete,
            release,
            id_col,
            run_at_col,
            lease_txn: strategy.lease_txn,
            batch: strategy.batch,
            consume: strategy.consume,
        })
    }

    /// Run the lease; fills `ids` and `run_ats` (cleared first).
    async fn lease(
        &self,
        client: &Client,
        ids: &mut Vec<i64>,
        run_ats: &mut Vec<Option<SystemTime>>,
    ) -> Result<(), tokio_postgres::Error> {
        ids.clear();
        run_ats.clear();
        if self.lease_txn {
            client.batch_execute("BEGIN").await?;
        }
        let r = self.lease_inner(client, ids, run_ats).await;
        if self.lease_txn {
            match &r {
                Ok(()) => client.batch_execute("COMMIT").await?,
                Err(_) if !client.is_closed() => {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                Err(_) => {}
            }
        }
        r
    }

    async fn lease_inner(
        &self,
        client: &Client,
        ids: &mut Vec<i64>,
        run_ats: &mut Vec<Option<SystemTime>>,
    ) -> Result<(), tokio_postgres::Error> {
        let none: [&(dyn ToSql + Sync); 0] = [];
        let mut rows = pin!(client.query_raw(&self.lease[0], none).await?);
        while let Some(row) = rows.try_next().await? {
            ids.push(row.try_get(self.id_col)?);
            run_ats.push(match self.run_at_col {
                Some(c) => row.try_get(c)?,
                None => None,
            });
        }
        if ids.is_empty() {
            return Ok(());
        }
        for stmt in &self.lease[1..] {
            self.exec_with_ids(client, stmt, ids).await?;
        }
        Ok(())
    }

    async fn exec_with_ids(
        &self,
        client: &Client,
        stmt: &Statement,
        ids: &Vec<i64>,
    ) -> Result<u64, tokio_postgres::Error> {
        match stmt.params().len() {
            0 => client.execute(stmt, &[]).await,
            _ if self.batch => client.execute(stmt, &[ids]).await,
            _ => client.execute(stmt, &[&ids[0]]).await,
        }
    }

    /// Complete; returns the rows the first complete statement touched.
    async fn complete(
        &self,
        client: &Client,
        ids: &Vec<i64>,
    ) -> Result<u64, tokio_postgres::Error> {
        let mut first = None;
        for stmt in &self.complete {
            let n = self.exec_with_ids(client, stmt, ids).await?;
            first.get_or_insert(n);
        }
        Ok(first.unwrap_or(1))
    }

    /// Give up a lease without completing it (e.g. unlock).
    async fn release(
        &self,
        client: &Client,
        ids: &Vec<i64>,
    ) -> Result<bool, tokio_postgres::Error> {
        for stmt in &self.release {
            self.exec_with_ids(client, stmt, ids).await?;
        }
        Ok(!self.release.is_empty())
    }
}

/// Everything a worker needs for one cell.
pub struct WorkerCtx {
    pub index: usize,
    pub shared: Arc<Shared>,
    pub pool: deadpool_postgres::Pool,
    pub strategy: Strategy,
    pub lease_ms: u64,
    pub batch: u32,
    pub work: Duration,
    pub pacing: Pacing,
    pub expected_events: usize,
    /// Percent of leases to abandon (fault injection).
    pub abandon_pct: f64,
}

/// xorshift64*: a worker's own cheap random numbers (no shared state).
struct Rng(u64);

impl Rng {
    fn new(worker: u64, start: Instant) -> Rng {
        let t = start.elapsed().as_nanos() as u64 ^ std::process::id() as u64;
        Rng((worker.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t | 1)
    }

    /// Uniform in [0, 100).
    fn percent(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// Connect and prepare; returns the connection and its statements.
pub async fn setup(ctx: &WorkerCtx) -> Result<(deadpool_postgres::Object, Prepared), String> {
    let client = ctx
        .pool
        .get()
        .await
        .map_err(|e| format!("worker {} cannot connect: {e}", ctx.index))?;
    let prepared = Prepared::new(&client, &ctx.strategy, ctx.lease_ms, ctx.batch).await?;
    Ok((client, prepared))
}

/// What the driver tells parked workers.
#[derive(Debug, Clone, Copy)]
pub enum Go {
    /// Stay parked.
    Wait,
    /// Run batch `seq`, paced from `start`, until the stop flag.
    Batch { seq: u64, start: Instant },
    /// Leave: the cell is over.
    Stop,
}

/// A worker for the whole cell: parked until the driver starts a batch,
/// runs it until the stop flag, reports `parked`, and waits for the next.
/// Event times are relative to `epoch`, the cell's first start.
pub async fn run(
    ctx: WorkerCtx,
    mut client: deadpool_postgres::Object,
    mut prepared: Prepared,
    epoch: Instant,
    mut go: tokio::sync::watch::Receiver<Go>,
    parked: tokio::sync::mpsc::UnboundedSender<()>,
) -> WorkerOut {
    let mut out = WorkerOut {
        events: Vec::with_capacity(ctx.expected_events),
        ..WorkerOut::default()
    };
    let cap = if ctx.strategy.batch {
        ctx.batch as usize
    } else {
        1
    };
    let mut bufs = (Vec::with_capacity(cap), Vec::with_capacity(cap));
    let mut seen = 0u64;
    loop {
        let start = loop {
            match *go.borrow_and_update() {
                Go::Batch { seq, start } if seq > seen => {
                    seen = seq;
                    break Some(start);
                }
                Go::Stop => break None,
                _ => {}
            }
            if go.changed().await.is_err() {
                break None;
            }
        };
        let Some(start) = start else { break };
        run_batch(
            &ctx,
            &mut client,
            &mut prepared,
            &mut out,
            &mut bufs,
            epoch,
            start,
        )
        .await;
        let _ = parked.send(());
    }
    out
}

type Bufs = (Vec<i64>, Vec<Option<SystemTime>>);

/// Lease -> work -> complete until the stop flag.
async fn run_batch(
    ctx: &WorkerCtx,
    client: &mut deadpool_postgres::Object,
    prepared: &mut Prepared,
    out: &mut WorkerOut,
    (ids, run_ats): &mut Bufs,
    epoch: Instant,
    start: Instant,
) {
    let slot = &ctx.shared.slots[ctx.index];
    let mut backoff = Duration::ZERO;
    let mut rng = Rng::new(ctx.index as u64, start);
    // Open-loop schedule: this worker's k-th lease is due at
    // start + offset + k * interval; latency counts from then.
    let (interval, mut due) = match ctx.pacing {
        Pacing::Closed => (Duration::ZERO, start),
        Pacing::Open { interval } => {
            let n = ctx.shared.slots.len().max(1) as u32;
            (interval, start + interval * (ctx.index as u32) / n)
        }
    };
    while !ctx.shared.stop.load(Ordering::Relaxed) {
        let t0 = if interval.is_zero() {
            Instant::now()
        } else {
            tokio::time::sleep_until(due.into()).await;
            if ctx.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let intended = due;
            due += interval;
            intended
        };
        let sent = Instant::now();
        match prepared.lease(client, ids, run_ats).await {
            Ok(()) if ids.is_empty() => {
                out.empty_polls += 1;
                out.rec.record(Metric::EmptyLease, us(sent.elapsed()));
                backoff = (backoff * 2).clamp(Duration::from_millis(1), Duration::from_millis(50));
                if interval.is_zero() {
                    tokio::time::sleep(backoff).await;
                }
                continue;
            }
            Ok(()) => {
                let got = Instant::now();
                out.last_ok_us = us(got - epoch);
                backoff = Duration::ZERO;
                out.rec.record(Metric::Lease, us(got - t0));
                out.lease_calls += 1;
                out.leased += ids.len() as u64;
                slot.leased.fetch_add(ids.len() as u64, Ordering::Relaxed);
                let wall = SystemTime::now();
                let (sent_us, got_us) = (us(sent - epoch), us(got - epoch));
                for (id, run_at) in ids.iter().zip(run_ats.iter()) {
                    if let Some(lag) = run_at.and_then(|r| wall.duration_since(r).ok()) {
                        out.rec.record(Metric::PickupLag, us(lag));
                    }
                    out.events.push(LeaseEvent {
                        id: *id,
                        worker: ctx.index as u32,
                        sent_us,
                        got_us,
                        done_us: NOT_DONE,
                        ended_us: NOT_DONE,
                    });
                }
                if !ctx.work.is_zero() {
                    tokio::time::sleep(ctx.work).await;
                }
                let n_ev = out.events.len();
                if ctx.abandon_pct > 0.0 && rng.percent() < ctx.abandon_pct {
                    // As if the worker crashed holding the lease. A consumed
                    // item is gone with it; a released lease ended when the
                    // release was sent (the server may free it before it
                    // answers).
                    out.abandoned += ids.len() as u64;
                    let release_sent = us(epoch.elapsed());
                    if prepared.consume {
                        for e in &mut out.events[n_ev - ids.len()..] {
                            e.ended_us = got_us;
                        }
                    }
                    match prepared.release(client, ids).await {
                        Ok(true) => {
                            out.last_ok_us = us(epoch.elapsed());
                            for e in &mut out.events[n_ev - ids.len()..] {
                                e.ended_us = e.ended_us.min(release_sent);
                            }
                        }
                        Ok(false) => {}
                        Err(e) => {
                            note_error(out, &e);
                            if client.is_closed() {
                                reconnect(ctx, client, prepared, out).await;
                            }
                        }
                    }
                    continue;
                }
                if prepared.consume {
                    // The lease was the consumption.
                    for e in &mut out.events[n_ev - ids.len()..] {
                        e.done_us = got_us;
                    }
                } else {
                    let c0 = Instant::now();
                    match prepared.complete(client, ids).await {
                        Ok(0) => {
                            // The completion matched no row: the lease had
                            // expired and the item moved on. Not done here.
                            out.last_ok_us = us(epoch.elapsed());
                            out.stale_completions += ids.len() as u64;
                            continue;
                        }
                        Ok(_) => {
                            let done = Instant::now();
                            out.rec.record(Metric::Complete, us(done - c0));
                            let done_us = us(done - epoch);
                            out.last_ok_us = done_us;
                            for e in &mut out.events[n_ev - ids.len()..] {
                                e.done_us = done_us;
                            }
                        }
                        Err(e) => {
                            note_error(out, &e);
                            if client.is_closed() {
                                reconnect(ctx, client, prepared, out).await;
                            }
                            continue;
                        }
                    }
                }
                let n = ids.len() as u64;
                out.completed += n;
                slot.completed.fetch_add(n, Ordering::Relaxed);
                out.rec.record(Metric::Cycle, us(t0.elapsed()));
                if ctx.shared.remaining.fetch_sub(n as i64, Ordering::Relaxed) <= n as i64 {
                    ctx.shared.stop.store(true, Ordering::Relaxed);
                }
            }
            Err(e) => {
                note_error(out, &e);
                if client.is_closed() {
                    reconnect(ctx, client, prepared, out).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
}

fn note_error(out: &mut WorkerOut, e: &tokio_postgres::Error) {
    out.errors[ErrorClass::of(e).index()] += 1;
    out.last_error = Some(crate::schema::format_db_error(e));
}

/// Replace a broken connection, retrying until it works or the cell stops.
/// A session-lock strategy's open leases ended with the old connection.
async fn reconnect(
    ctx: &WorkerCtx,
    client: &mut deadpool_postgres::Object,
    prepared: &mut Prepared,
    out: &mut WorkerOut,
) {
    out.reconnects += 1;
    if ctx.strategy.lease_ends_with_connection {
        // The connection (and its session locks) may have died any time
        // after its last answer.
        let ended = out.last_ok_us;
        for e in out.events.iter_mut().rev() {
            if e.done_us == NOT_DONE && e.ended_us == NOT_DONE {
                e.ended_us = ended;
            }
        }
    }
    let mut wait = Duration::from_millis(10);
    while !ctx.shared.stop.load(Ordering::Relaxed) {
        match setup(ctx).await {
            Ok((c, p)) => {
                *client = c;
                *prepared = p;
                return;
            }
            Err(e) => {
                out.errors[ErrorClass::ConnectionLost.index()] += 1;
                out.last_error = Some(e);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
        }
    }
}
