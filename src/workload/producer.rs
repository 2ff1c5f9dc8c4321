//! The producer: in duration mode it keeps the queue between half and all
//! of `queue_depth` deep, so workers measure leasing, not an empty table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

use crate::schema::{insert_items, IdRange};
use crate::workload::worker::Shared;

/// What the producer did in one cell.
#[derive(Debug, Default)]
pub struct ProducerOut {
    pub ranges: Vec<IdRange>,
    pub refills: u64,
    pub error: Option<String>,
}

/// `seeded` is what the cell started with.
/// Refill until `stop` (the cell's end, not a batch's).
pub async fn run(
    client: Client,
    shared: Arc<Shared>,
    seeded: u64,
    depth: u64,
    stop: Arc<AtomicBool>,
) -> ProducerOut {
    let mut out = ProducerOut::default();
    let mut produced = seeded;
    let low = depth / 2;
    while !stop.load(Ordering::Relaxed) {
        let leased: u64 = shared
            .slots
            .iter()
            .map(|s| s.leased.load(Ordering::Relaxed))
            .sum();
        let queued = produced.saturating_sub(leased);
        if queued < low {
            let n = depth - queued;
            match insert_items(&client, n).await {
                Ok(r) => {
                    produced += n;
                    out.refills += 1;
                    out.ranges.push(r);
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    out
}
