//! What the server was doing: `pg_stat_*` counters before and after a cell,
//! the settings that matter, and wait events sampled from
//! `pg_stat_activity` while workers run.
//!
//! Reads only catalog views and leasebench's own table; never writes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::{Error, Result};

/// Settings recorded with every run (those that change lease behaviour).
pub const SETTINGS: &[&str] = &[
    "server_version",
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_level",
    "max_connections",
    "work_mem",
    "effective_cache_size",
    "random_page_cost",
    "checkpoint_timeout",
    "max_wal_size",
    "autovacuum",
    "autovacuum_naptime",
    "autovacuum_vacuum_scale_factor",
    "jit",
    "default_transaction_isolation",
    "huge_pages",
    "max_worker_processes",
];

/// The server a run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServerInfo {
    /// `server_version` (e.g. `15.18 (Debian 15.18-0+deb12u1)`).
    pub pg_version: String,
    /// `SELECT version()`.
    pub version_full: String,
    pub server_version_num: i32,
    /// Where it ran (throwaway cluster, URL without password, container).
    pub source: String,
    pub settings: BTreeMap<String, String>,
    /// Connections the server allows beyond reserved ones.
    pub usable_connections: i64,
}

pub async fn server_info(client: &Client, source: &str) -> Result<ServerInfo> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), version(), current_setting('server_version_num')::int,
                    current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
                      - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int",
            &[],
        )
        .await
        .map_err(|e| Error::db("cannot read the server version", e))?;
    let names: Vec<String> = SETTINGS.iter().map(|s| s.to_string()).collect();
    let rows = client
        .query(
            "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY($1) ORDER BY name",
            &[&names],
        )
        .await
        .map_err(|e| Error::db("cannot read server settings", e))?;
    Ok(ServerInfo {
        pg_version: row.get(0),
        version_full: row.get(1),
        server_version_num: row.get(2),
        source: source.to_string(),
        settings: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        usable_connections: row.get::<_, i32>(3) as i64,
    })
}

/// Server counters at one moment (database-wide, and for due_work).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub blks_read: i64,
    pub blks_hit: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    pub deadlocks: i64,
    /// Current WAL position in bytes (absent on a standby or when not allowed).
    pub wal_lsn_bytes: Option<u64>,
    pub n_live_tup: i64,
    pub n_dead_tup: i64,
    pub n_tup_hot_upd: i64,
    pub autovacuum_count: i64,
    pub table_bytes: i64,
    pub index_bytes: i64,
}

/// After minus before, for the counters that accumulate; sizes and live /
/// dead tuples as they stood at the end.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CounterDelta {
    pub commits: i64,
    pub rollbacks: i64,
    pub blks_read: i64,
    pub blks_hit: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    pub deadlocks: i64,
    pub wal_bytes: Option<u64>,
    pub hot_updates: i64,
    pub autovacuums: i64,
    pub dead_tuples_end: i64,
    pub live_tuples_end: i64,
    pub table_bytes_end: i64,
    pub index_bytes_end: i64,
}

impl Counters {
    pub fn delta(&self, after: &Counters) -> CounterDelta {
        CounterDelta {
            commits: after.xact_commit - self.xact_commit,
            rollbacks: after.xact_rollback - self.xact_rollback,
            blks_read: after.blks_read - self.blks_read,
            blks_hit: after.blks_hit - self.blks_hit,
            tup_inserted: after.tup_inserted - self.tup_inserted,
            tup_updated: after.tup_updated - self.tup_updated,
            tup_deleted: after.tup_deleted - self.tup_deleted,
            deadlocks: after.deadlocks - self.deadlocks,
            wal_bytes: match (self.wal_lsn_bytes, after.wal_lsn_bytes) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
            hot_updates: after.n_tup_hot_upd - self.n_tup_hot_upd,
            autovacuums: after.autovacuum_count - self.autovacuum_count,
            dead_tuples_end: after.n_dead_tup,
            live_tuples_end: after.n_live_tup,
            table_bytes_end: after.table_bytes,
            index_bytes_end: after.index_bytes,
        }
    }
}

fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Read the counters. `client`'s search_path must be leasebench's schema.
///
/// A session's own activity (the seeding this connection just did) reaches
/// the statistics views only when the session next reports, at most once a
/// second on Postgres 15+; force that report first so the seed rows are not
/// counted as the cell's work. (Before 15 there is no such call; the error
/// is ignored and the counts may lag by up to half a second.)
pub async fn snapshot(client: &Client) -> Result<Counters> {
    let _ = client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await;
    let db = client
        .query_one(
            "SELECT xact_commit, xact_rollback, blks_read, blks_hit, tup_inserted, tup_updated,
                    tup_deleted, deadlocks
               FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .map_err(|e| Error::db("cannot read pg_stat_database", e))?;
    let t = client
        .query_one(
            "SELECT coalesce(s.n_live_tup, 0), coalesce(s.n_dead_tup, 0), coalesce(s.n_tup_hot_upd, 0),
                    coalesce(s.autovacuum_count, 0), pg_table_size('due_work'), pg_indexes_size('due_work')
               FROM (SELECT 'due_work'::regclass AS relid) r
               LEFT JOIN pg_stat_user_tables s ON s.relid = r.relid",
            &[],
        )
        .await
        .map_err(|e| Error::db("cannot read due_work's statistics", e))?;
    let wal = match client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
    {
        Ok(r) => parse_lsn(&r.get::<_, String>(0)),
        Err(_) => None,
    };
    Ok(Counters {
        xact_commit: db.get(0),
        xact_rollback: db.get(1),
        blks_read: db.get(2),
        blks_hit: db.get(3),
        tup_inserted: db.get(4),
        tup_updated: db.get(5),
        tup_deleted: db.get(6),
        deadlocks: db.get(7),
        wal_lsn_bytes: wal,
        n_live_tup: t.get(0),
        n_dead_tup: t.get(1),
        n_tup_hot_upd: t.get(2),
        autovacuum_count: t.get(3),
        table_bytes: t.get(4),
        index_bytes: t.get(5),
    })
}

/// Wait until no backend named `app` is left (the workers', including any
/// that reconnected), so their statistics have been flushed before the
/// "after" snapshot (at most `limit`).
pub async fn wait_backends_gone(client: &Client, app: &str, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        match client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
        {
            Ok(r) if r.get::<_, i64>(0) == 0 => return,
            Err(_) => return,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Sample the wait events of the backends named `app` every `every` until `stop`; returns
/// counts per `type:event` (`CPU` when active and not waiting) and the
/// number of samples taken.
pub async fn sample_waits(
    client: Client,
    app: String,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> (BTreeMap<String, u64>, u64) {
    let mut counts = BTreeMap::new();
    let mut samples = 0u64;
    let Ok(stmt) = client
        .prepare(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*)
               FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' GROUP BY 1",
        )
        .await
    else {
        return (counts, 0);
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        match client.query(&stmt, &[&app]).await {
            Ok(rows) => {
                samples += 1;
                for r in rows {
                    *counts.entry(r.get::<_, String>(0)).or_insert(0) += r.get::<_, i64>(1) as u64;
                }
            }
            Err(_) => break,
        }
    }
    (counts, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_parsing() {
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B3748));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("nope"), None);
    }
}
