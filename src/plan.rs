//! Query plans of the lease statement: `EXPLAIN (ANALYZE, BUFFERS, FORMAT
//! JSON)` inside a transaction that is rolled back, so capturing a plan
//! consumes no work, and a summary of what matters for leasing.
//!
//! Runs on its own connection: a strategy may take session-level advisory
//! locks, which a rollback does not release but a closed connection does.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pg::Server;
use crate::workload::CellSpec;

/// One captured plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanCapture {
    /// `fresh` (just seeded and vacuumed) or `after` (with the cell's dead tuples).
    pub when: String,
    pub summary: PlanSummary,
    /// The server's JSON plan, as returned.
    pub plan: serde_json::Value,
}

/// What a reader wants from a lease plan at a glance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PlanSummary {
    /// The root node (e.g. `ModifyTable (Update)`, `Limit`).
    pub top_node: String,
    /// How due_work was read: `Index Scan using x`, `Seq Scan`, ...
    pub scans: Vec<String>,
    /// Rows read and thrown away by filters (all loops).
    pub rows_removed_by_filter: f64,
    pub shared_hit_blocks: i64,
    pub shared_read_blocks: i64,
    pub execution_ms: f64,
}

impl PlanSummary {
    /// `Index Scan using due_work_pending_partial` / `Seq Scan` / both.
    pub fn access(&self) -> String {
        if self.scans.is_empty() {
            "-".into()
        } else {
            self.scans.join(" + ")
        }
    }
}

/// Summarise a `FORMAT JSON` plan.
pub fn summarize(plan: &serde_json::Value) -> PlanSummary {
    let root = &plan[0];
    let top = &root["Plan"];
    let mut s = PlanSummary {
        top_node: describe(top),
        execution_ms: root["Execution Time"].as_f64().unwrap_or(0.0),
        shared_hit_blocks: top["Shared Hit Blocks"].as_i64().unwrap_or(0),
        shared_read_blocks: top["Shared Read Blocks"].as_i64().unwrap_or(0),
        ..PlanSummary::default()
    };
    walk(top, &mut s);
    s
}

fn describe(node: &serde_json::Value) -> String {
    let t = node["Node Type"].as_str().unwrap_or("?");
    match node["Operation"].as_str() {
        Some(op) if t == "ModifyTable" => format!("{t} ({op})"),
        _ => t.to_string(),
    }
}

fn walk(node: &serde_json::Value, s: &mut PlanSummary) {
    let loops = node["Actual Loops"].as_f64().unwrap_or(1.0).max(1.0);
    s.rows_removed_by_filter += node["Rows Removed by Filter"].as_f64().unwrap_or(0.0) * loops;
    if node["Relation Name"].as_str() == Some("due_work") || node["Index Name"].is_string() {
        let t = node["Node Type"].as_str().unwrap_or("?");
        let d = match node["Index Name"].as_str() {
            Some(ix) => format!("{t} using {ix}"),
            None => t.to_string(),
        };
        if node["Node Type"] != "ModifyTable" && !s.scans.contains(&d) {
            s.scans.push(d);
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for c in children {
            walk(c, s);
        }
    }
}

/// EXPLAIN the cell's first lease statement in `format` (`JSON` or `TEXT`)
/// inside a rolled-back transaction, on a connection of its own.
pub async fn explain(server: &Server, spec: &CellSpec, format: &str) -> Result<Vec<String>> {
    let client = server
        .connect_schema("leasebench-explain", &spec.schema)
        .await?;
    let lease = spec.strategy.render(spec.lease_ms, spec.batch).lease;
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| Error::db("cannot begin for EXPLAIN", e))?;
    let rows = client
        .query(
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT {format}) {}", lease[0]),
            &[],
        )
        .await;
    let _ = client.batch_execute("ROLLBACK").await;
    let rows = rows.map_err(|e| {
        Error::db(
            format!(
                "EXPLAIN of strategy {}'s lease statement failed",
                spec.strategy.name
            ),
            e,
        )
    })?;
    // FORMAT JSON comes back as a json value, the others as text lines.
    rows.iter()
        .map(|r| match r.try_get::<_, serde_json::Value>(0) {
            Ok(v) => Ok(v.to_string()),
            Err(_) => r
                .try_get::<_, String>(0)
                .map_err(|e| Error::Internal(format!("unexpected EXPLAIN output: {e}"))),
        })
        .collect()
}

/// Capture and summarise the lease plan.
pub async fn capture(server: &Server, spec: &CellSpec, when: &str) -> Result<PlanCapture> {
    let text = explain(server, spec, "JSON").await?.join("\n");
    let plan: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("EXPLAIN returned unreadable JSON: {e}")))?;
    Ok(PlanCapture {
        when: when.to_string(),
        summary: summarize(&plan),
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_an_update_plan() {
        let plan: serde_json::Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "ModifyTable", "Operation": "Update", "Relation Name": "due_work",
                 "Shared Hit Blocks": 12, "Shared Read Blocks": 3, "Actual Loops": 1,
                 "Plans": [{"Node Type": "Index Scan", "Index Name": "due_work_pkey", "Relation Name": "due_work", "Actual Loops": 1,
                   "Plans": [{"Node Type": "Limit", "Actual Loops": 1, "Plans": [{"Node Type": "LockRows", "Actual Loops": 1,
                     "Plans": [{"Node Type": "Seq Scan", "Relation Name": "due_work", "Rows Removed by Filter": 40, "Actual Loops": 2}]}]}]}]},
               "Execution Time": 0.25}]"#,
        )
        .unwrap();
        let s = summarize(&plan);
        assert_eq!(s.top_node, "ModifyTable (Update)");
        assert_eq!(s.scans, vec!["Index Scan using due_work_pkey", "Seq Scan"]);
        assert_eq!(s.rows_removed_by_filter, 80.0);
        assert_eq!((s.shared_hit_blocks, s.shared_read_blocks), (12, 3));
        assert_eq!(s.execution_ms, 0.25);
        assert_eq!(s.access(), "Index Scan using due_work_pkey + Seq Scan");
    }
}
