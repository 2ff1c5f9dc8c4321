//! leasebench's own schema: creating and claiming it, migrations, seeding,
//! resetting `due_work` between cells, and index variants.
//!
//! Everything here runs inside the one schema leasebench owns (connections
//! set `search_path` to it). It never reads, writes or drops anything
//! outside it, and it refuses a schema it did not create.

use tokio_postgres::{Client, GenericClient};

use crate::error::{Error, Result};
use crate::strategy::{IndexVariant, Strategy};

/// The comment that marks a schema as leasebench's own.
pub const MARKER: &str = "leasebench: created by leasebench; safe to drop";

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Quote an identifier (schema names are validated, but quote anyway).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Create the schema (marked as leasebench's) or check that an existing
/// one is leasebench's, and take the run's advisory lock on it so two runs
/// never share a schema. `client` must stay open for the whole run.
pub async fn claim(client: &Client, schema: &str) -> Result<()> {
    let row = client
        .query_opt(
            "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = $1",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db("cannot look up schemas", e))?;
    match row {
        Some(r) => {
            let comment: String = r.get(0);
            if comment != MARKER {
                return Err(Error::Schema(format!(
                    "schema {schema:?} exists and was not created by leasebench; leasebench will not touch it: choose another with --schema NAME"
                )));
            }
        }
        None => {
            let q = quote_ident(schema);
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA {q}; COMMENT ON SCHEMA {q} IS '{MARKER}'"
                ))
                .await
                .map_err(|e| Error::db(format!("cannot create schema {schema:?} (does the user have CREATE on the database?)"), e))?;
        }
    }
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('leasebench'), hashtext($1))",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db("cannot take the schema's advisory lock", e))?
        .get(0);
    if !locked {
        return Err(Error::Schema(format!(
            "another leasebench run is using schema {schema:?}; wait for it or pass --schema NAME"
        )));
    }
    Ok(())
}

/// Apply the checksummed migrations in `migrations/` (refinery keeps its
/// history table inside the schema). `client`'s search_path must be the schema.
pub async fn migrate(client: &mut Client) -> Result<()> {
    embedded::migrations::runner()
        .set_migration_table_name("leasebench_migrations")
        .run_async(client)
        .await
        .map_err(|e| Error::Schema(format!("migrating leasebench's schema failed: {e}")))?;
    Ok(())
}

/// Run `stmt(name)` for each (quoted) name `list` returns; `what` names
/// the objects in errors.
async fn for_each_name<C: GenericClient>(
    client: &C,
    list: &str,
    what: &str,
    stmt: impl Fn(&str) -> String,
) -> Result<()> {
    let rows = client
        .query(list, &[])
        .await
        .map_err(|e| Error::db(format!("cannot list {what}"), e))?;
    for r in rows {
        let name: String = r.get(0);
        client
            .batch_execute(&stmt(&name))
            .await
            .map_err(|e| Error::db(format!("{what}: {} failed", stmt(&name)), e))?;
    }
    Ok(())
}

/// Drop every index on due_work but its primary key.
async fn drop_indexes<C: GenericClient>(client: &C) -> Result<()> {
    for_each_name(
        client,
        "SELECT quote_ident(i.relname) FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = 'due_work'::regclass AND NOT x.indisprimary",
        "due_work's indexes",
        |name| format!("DROP INDEX {name}"),
    )
    .await
}

/// Try each index variant inside a rolled-back transaction, so a bad
/// user file fails before the sweep starts, naming the file.
pub async fn check_indexes(client: &mut Client, indexes: &[IndexVariant]) -> Result<()> {
    for ix in indexes {
        let tx = client
            .transaction()
            .await
            .map_err(|e| Error::db("cannot begin", e))?;
        drop_indexes(&tx).await?;
        if !ix.ddl.is_empty() {
            tx.batch_execute(&ix.ddl).await.map_err(|e| {
                Error::file(
                    "index variant failed on the server:",
                    &ix.source,
                    format_db_error(&e),
                )
            })?;
        }
        tx.rollback()
            .await
            .map_err(|e| Error::db("cannot roll back", e))?;
    }
    Ok(())
}

/// The server's message for a statement error (what, where, hint).
pub fn format_db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.code().code(), db.message());
            if let Some(h) = db.hint() {
                s.push_str(&format!(" (hint: {h})"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// A range of ids one insert produced.
#[derive(Debug, Clone, Copy)]
pub struct IdRange {
    pub first: i64,
    pub last: i64,
}

/// Insert `n` due items in one statement; returns the ids made.
pub async fn insert_items(client: &Client, n: u64) -> Result<IdRange> {
    let row = client
        .query_one(
            "WITH ins AS (
               INSERT INTO due_work (task_id, payload, priority, run_at)
               SELECT g, jsonb_build_object('n', g, 'kind', 'leasebench'), (g % 5)::int,
                      now() - interval '1 second' - (g % 1000) * interval '1 millisecond'
                 FROM generate_series(1, $1::bigint) AS g
               RETURNING id)
             SELECT coalesce(min(id), 0), coalesce(max(id), -1), count(*) FROM ins",
            &[&(n as i64)],
        )
        .await
        .map_err(|e| Error::db("cannot insert work items", e))?;
    let (first, last, count): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    if count as u64 != n || (n > 0 && (last - first + 1) as u64 != n) {
        return Err(Error::Internal(format!(
            "inserted {count} items with ids {first}..={last}, expected {n} consecutive ids"
        )));
    }
    Ok(IdRange { first, last })
}

/// Start a cell from a fresh table: truncate (a new relfilenode, so no dead
/// tuples carry over; CASCADE empties a strategy's side tables that
/// reference it), drop what the last strategy added (indexes, triggers),
/// apply the index variant and this strategy's setup, seed `items`, vacuum
/// and analyze, checkpoint where allowed.
pub async fn reset_cell(
    client: &Client,
    index: &IndexVariant,
    strategy: &Strategy,
    setup: &[String],
    items: u64,
) -> Result<IdRange> {
    client
        .batch_execute("TRUNCATE due_work RESTART IDENTITY CASCADE")
        .await
        .map_err(|e| Error::db("cannot truncate due_work", e))?;
    drop_indexes(client).await?;
    for_each_name(
        client,
        "SELECT quote_ident(tgname) FROM pg_trigger
          WHERE tgrelid = 'due_work'::regclass AND NOT tgisinternal",
        "due_work's triggers",
        |name| format!("DROP TRIGGER {name} ON due_work"),
    )
    .await?;
    if !index.ddl.is_empty() {
        client.batch_execute(&index.ddl).await.map_err(|e| {
            Error::db(
                format!("index variant {} ({}) failed", index.name, index.source),
                e,
            )
        })?;
    }
    for stmt in setup {
        client.batch_execute(stmt).await.map_err(|e| {
            Error::db(
                format!(
                    "strategy {} ({}): @setup failed",
                    strategy.name, strategy.source
                ),
                e,
            )
        })?;
    }
    let range = insert_items(client, items).await?;
    // Report the inserts before VACUUM sets the live-tuple count, or they
    // would be added on top of it later (Postgres 15+; ignored before).
    let _ = client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await;
    client
        .batch_execute("VACUUM (ANALYZE) due_work")
        .await
        .map_err(|e| Error::db("cannot vacuum due_work", e))?;
    // A strategy's side tables (filled by its triggers) get statistics too.
    for_each_name(
        client,
        "SELECT quote_ident(tablename) FROM pg_tables
          WHERE schemaname = current_schema()
            AND tablename NOT IN ('due_work', 'leasebench_migrations')",
        "the schema's side tables",
        |name| format!("ANALYZE {name}"),
    )
    .await?;
    // Flush the seeding's dirty pages so the cell does not pay for them;
    // needs superuser or pg_checkpoint, so it is best effort.
    let _ = client.batch_execute("CHECKPOINT").await;
    Ok(range)
}

/// Remove the rows a run left (the schema and table stay, marked as ours).
pub async fn clear(client: &Client) -> Result<()> {
    client
        .batch_execute("TRUNCATE due_work")
        .await
        .map_err(|e| Error::db("cannot empty due_work", e))
}
