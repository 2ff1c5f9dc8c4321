//! The producer and rescuer: one connection that, while a cell runs,
//! keeps the queue between half and all of `queue_depth` deep (duration
//! mode), and every so often runs the strategy's rescue statement so that
//! expired leases become available again (as river's rescuer, oban's
//! lifeline and graphile's lock reset do). It reconnects if the server
//! drops it (a kill or a restart injected by `--chaos`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::schema::{insert_items, IdRange};
use crate::workload::worker::Shared;

/// What the producer did in one cell.
#[derive(Debug, Default)]
pub struct ProducerOut {
    pub ranges: Vec<IdRange>,
    pub refills: u64,
    /// Rows the rescue statement made available again.
    pub rescued: u64,
    /// The fewest items queued (produced minus leased) seen while refilling.
    pub min_queued: Option<u64>,
    pub error: Option<String>,
}

/// How the producer works in one cell.
pub struct ProducerCtx {
    /// Connection settings, to reconnect after a fault.
    pub config: tokio_postgres::Config,
    pub shared: Arc<Shared>,
    /// Items the cell started with.
    pub seeded: u64,
    /// Refill to this depth (duration mode); `None`: never insert.
    pub depth: Option<u64>,
    pub rescue: Vec<String>,
    pub rescue_every: Duration,
    /// The cell's end (not a batch's).
    pub stop: Arc<AtomicBool>,
}

pub async fn run(ctx: ProducerCtx, client: Client) -> ProducerOut {
    let mut out = ProducerOut::default();
    let mut client = Some(client);
    let mut produced = ctx.seeded;
    let mut next_rescue = Instant::now() + ctx.rescue_every;
    while !ctx.stop.load(Ordering::Relaxed) {
        let c = match client.as_ref().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => {
                client = crate::pg::connect(&ctx.config, "producer").await.ok();
                if client.is_none() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let mut busy = false;
        if let Some(depth) = ctx.depth {
            let leased: u64 = ctx
                .shared
                .slots
                .iter()
                .map(|s| s.leased.load(Ordering::Relaxed))
                .sum();
            let queued = produced.saturating_sub(leased);
            out.min_queued = Some(out.min_queued.map_or(queued, |m| m.min(queued)));
            if queued < depth / 2 {
                busy = true;
                match insert_items(c, depth - queued).await {
                    Ok(r) => {
                        produced += depth - queued;
                        out.refills += 1;
                        out.ranges.push(r);
                    }
                    Err(e) => out.error = Some(e.to_string()),
                }
            }
        }
        if Instant::now() >= next_rescue {
            next_rescue = Instant::now() + ctx.rescue_every;
            for stmt in &ctx.rescue {
                match c.execute(stmt.as_str(), &[]).await {
                    Ok(n) => out.rescued += n,
                    Err(e) => out.error = Some(crate::schema::format_db_error(&e)),
                }
            }
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    out
}
