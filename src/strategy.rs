//! Lease strategies and index variants, loaded from SQL files.
//!
//! The catalogue shipped in `sql/strategies` and `sql/indexes` is compiled
//! in; users add their own with `--strategy-file` / `--index-file`. This
//! module parses and checks the files; it never talks to a server.
//!
//! A strategy file is SQL with a comment header and sections:
//!
//! ```sql
//! -- leasebench strategy: my_lease
//! -- summary: one line on what it is
//! -- safe: true          (exactly-once while leases are live)
//! -- batch: false        (leases `{batch}` rows at a time; complete gets bigint[])
//! -- consume: false      (the lease consumes the row; no complete section)
//! -- lease_txn: false    (run the lease statements inside one transaction)
//! -- completes_by_delete: false       (complete deletes the row)
//! -- lease_ends_with_connection: false (session locks: a lost connection ends the lease)
//! -- @setup              (optional: run after each cell's reset, before seeding:
//! --                      the strategy's own indexes, triggers, side tables)
//! -- @lease
//! UPDATE due_work SET ... RETURNING id, run_at;
//! -- @complete
//! UPDATE due_work SET status = 'completed' WHERE id = $1;
//! -- @release            (optional: run when a lease is abandoned, e.g. unlock)
//! -- @rescue             (optional: run every so often to make expired leases
//! --                      available again; default resets expired `running` rows;
//! --                      an empty section means no rescuer)
//! ```
//!
//! A statement ends at a `;` that ends a line. The first lease statement
//! takes no parameters and returns `id` (bigint) and optionally `run_at`;
//! each later lease statement, and each complete and release statement, gets
//! `$1` = the leased id (bigint[] of ids for batch strategies). `{lease_ms}`
//! and `{batch}` are replaced by the validated integers before preparing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));
}

/// One lease strategy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Strategy {
    pub name: String,
    pub summary: String,
    /// Exactly-once while leases are live.
    pub safe: bool,
    /// Leases up to `batch` rows per statement.
    pub batch: bool,
    /// The lease consumes the row (nothing to complete).
    pub consume: bool,
    /// Lease statements run in one explicit transaction.
    pub lease_txn: bool,
    /// Completion deletes the row (a completed item leaves the table).
    #[serde(default)]
    pub completes_by_delete: bool,
    /// The lease is a session lock: it ends when the connection does.
    #[serde(default)]
    pub lease_ends_with_connection: bool,
    #[serde(default)]
    pub setup: Vec<String>,
    pub lease: Vec<String>,
    pub complete: Vec<String>,
    #[serde(default)]
    pub release: Vec<String>,
    #[serde(default)]
    pub rescue: Vec<String>,
    /// The file has a `@rescue` section (an empty one means: no rescuer).
    #[serde(default)]
    pub rescue_given: bool,
    /// Where it came from (`sql/strategies/x.sql` or the user's path).
    pub source: String,
}

/// One index variant: DDL run on a fresh `due_work` before a cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexVariant {
    pub name: String,
    pub summary: String,
    pub ddl: String,
    pub source: String,
}

impl Strategy {
    /// Statements with `{lease_ms}` and `{batch}` filled in.
    pub fn render(&self, lease_ms: u64, batch: u32) -> Rendered {
        let fill = |v: &Vec<String>| -> Vec<String> {
            v.iter()
                .map(|s| {
                    s.replace("{lease_ms}", &lease_ms.to_string())
                        .replace("{batch}", &batch.to_string())
                })
                .collect()
        };
        let rescue = if !self.rescue_given && !self.consume {
            vec![DEFAULT_RESCUE.to_string()]
        } else {
            fill(&self.rescue)
        };
        Rendered {
            setup: fill(&self.setup),
            lease: fill(&self.lease),
            complete: fill(&self.complete),
            release: fill(&self.release),
            rescue,
        }
    }
}

/// Makes expired leases available again, as river's rescuer, oban's
/// lifeline and graphile's lock reset do: the normal lease query then
/// leases the item again.
pub const DEFAULT_RESCUE: &str = "UPDATE due_work SET status = 'pending' \
     WHERE status = 'running' AND locked_until < now()";

/// A strategy's statements, ready to prepare.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub setup: Vec<String>,
    pub lease: Vec<String>,
    pub complete: Vec<String>,
    pub release: Vec<String>,
    pub rescue: Vec<String>,
}

impl Strategy {
    /// One line for `leasebench strategies`.
    pub fn traits(&self) -> String {
        let mut t = vec![if self.safe { "safe" } else { "UNSAFE" }];
        if self.batch {
            t.push("batch");
        }
        if self.consume {
            t.push("consumes");
        }
        if self.lease_ends_with_connection {
            t.push("session-lock");
        }
        t.join(",")
    }
}

/// All strategies and index variants known to this run.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub strategies: BTreeMap<String, Strategy>,
    pub indexes: BTreeMap<String, IndexVariant>,
}

impl Catalogue {
    /// The built-in catalogue plus the user's files.
    pub fn load(strategy_files: &[PathBuf], index_files: &[PathBuf]) -> Result<Catalogue> {
        let mut cat = Catalogue::default();
        for (path, text) in embedded::STRATEGIES {
            let s = parse_strategy(text, Path::new(path))
                .unwrap_or_else(|e| panic!("built-in strategy {path} is broken: {e}"));
            cat.strategies.insert(s.name.clone(), s);
        }
        for (path, text) in embedded::INDEXES {
            let i = parse_index(text, Path::new(path))
                .unwrap_or_else(|e| panic!("built-in index {path} is broken: {e}"));
            cat.indexes.insert(i.name.clone(), i);
        }
        for path in strategy_files {
            let text = read(path, "cannot read strategy file")?;
            let s = parse_strategy(&text, path)
                .map_err(|e| Error::file("invalid strategy file", path, e))?;
            if let Some(old) = cat.strategies.get(&s.name) {
                return Err(Error::usage(format!(
                    "strategy file {}: the name {:?} is taken by {}; rename it in the `-- leasebench strategy:` header",
                    path.display(),
                    s.name,
                    old.source
                )));
            }
            cat.strategies.insert(s.name.clone(), s);
        }
        for path in index_files {
            let text = read(path, "cannot read index file")?;
            let i =
                parse_index(&text, path).map_err(|e| Error::file("invalid index file", path, e))?;
            if let Some(old) = cat.indexes.get(&i.name) {
                return Err(Error::usage(format!(
                    "index file {}: the name {:?} is taken by {}; rename it in the `-- leasebench index:` header",
                    path.display(),
                    i.name,
                    old.source
                )));
            }
            cat.indexes.insert(i.name.clone(), i);
        }
        Ok(cat)
    }

    pub fn strategy(&self, name: &str) -> Result<&Strategy> {
        self.strategies.get(name).ok_or_else(|| {
            Error::usage(format!(
                "unknown strategy {name:?}; known: {} (or add one with --strategy-file)",
                self.strategies
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    pub fn index(&self, name: &str) -> Result<&IndexVariant> {
        self.indexes.get(name).ok_or_else(|| {
            Error::usage(format!(
                "unknown index variant {name:?}; known: {} (or add one with --index-file)",
                self.indexes.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

fn read(path: &Path, what: &'static str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::file(what, path, e))
}

/// A parse problem, with the line it is on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

fn header_lines(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim();
        let rest = l.strip_prefix("--")?.trim();
        if rest.starts_with('@') {
            return None;
        }
        let (k, v) = rest.split_once(':')?;
        let k = k.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
        {
            return None;
        }
        Some((i + 1, k, v.trim()))
    })
}

fn parse_bool(line: usize, key: &str, v: &str) -> Result<bool, ParseError> {
    match v {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(ParseError(format!(
            "line {line}: `{key}:` must be true or false, not {v:?}"
        ))),
    }
}

fn check_name(line: usize, name: &str) -> Result<(), ParseError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ParseError(format!(
            "line {line}: name {name:?} must be letters, digits, _ or -"
        )));
    }
    Ok(())
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parse a strategy file (see the module docs for the format).
pub fn parse_strategy(text: &str, path: &Path) -> Result<Strategy, ParseError> {
    let mut s = Strategy {
        name: stem(path),
        summary: String::new(),
        safe: false,
        batch: false,
        consume: false,
        lease_txn: false,
        completes_by_delete: false,
        lease_ends_with_connection: false,
        setup: Vec::new(),
        lease: Vec::new(),
        complete: Vec::new(),
        release: Vec::new(),
        rescue: Vec::new(),
        rescue_given: false,
        source: path.display().to_string(),
    };
    let mut saw_safe = false;
    for (line, key, v) in header_lines(text) {
        match key {
            "leasebench strategy" => {
                check_name(line, v)?;
                s.name = v.to_string();
            }
            "summary" => s.summary = v.to_string(),
            "safe" => {
                s.safe = parse_bool(line, key, v)?;
                saw_safe = true;
            }
            "batch" => s.batch = parse_bool(line, key, v)?,
            "consume" => s.consume = parse_bool(line, key, v)?,
            "lease_txn" => s.lease_txn = parse_bool(line, key, v)?,
            "completes_by_delete" => s.completes_by_delete = parse_bool(line, key, v)?,
            "lease_ends_with_connection" => {
                s.lease_ends_with_connection = parse_bool(line, key, v)?
            }
            "leasebench index" => {
                return Err(ParseError(format!(
                    "line {line}: this is an index file; pass it with --index-file"
                )))
            }
            _ => {} // prose in comments may contain colons
        }
    }
    if !saw_safe {
        return Err(ParseError(
            "missing `-- safe: true|false` header (is it exactly-once while leases are live?)"
                .into(),
        ));
    }
    let sections = sections(text)?;
    for (name, stmts) in sections {
        match name.as_str() {
            "setup" => s.setup = stmts,
            "lease" => s.lease = stmts,
            "complete" => s.complete = stmts,
            "release" => s.release = stmts,
            "rescue" => {
                s.rescue = stmts;
                s.rescue_given = true;
            }
            other => {
                return Err(ParseError(format!(
                "unknown section `-- @{other}`; use @setup, @lease, @complete, @release, @rescue"
            )))
            }
        }
    }
    if s.lease.is_empty() {
        return Err(ParseError("no statements under `-- @lease`".into()));
    }
    if !s.consume && s.complete.is_empty() {
        return Err(ParseError(
            "no statements under `-- @complete` (or say `-- consume: true`)".into(),
        ));
    }
    if s.summary.is_empty() {
        s.summary = format!("user strategy from {}", path.display());
    }
    Ok(s)
}

/// Parse an index variant file: header plus DDL (empty DDL is allowed).
pub fn parse_index(text: &str, path: &Path) -> Result<IndexVariant, ParseError> {
    let mut i = IndexVariant {
        name: stem(path),
        summary: String::new(),
        ddl: String::new(),
        source: path.display().to_string(),
    };
    for (line, key, v) in header_lines(text) {
        match key {
            "leasebench index" => {
                check_name(line, v)?;
                i.name = v.to_string();
            }
            "summary" => i.summary = v.to_string(),
            "leasebench strategy" => {
                return Err(ParseError(format!(
                    "line {line}: this is a strategy file; pass it with --strategy-file"
                )))
            }
            _ => {}
        }
    }
    let ddl: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    i.ddl = ddl.join("\n").trim().to_string();
    if !i.ddl.is_empty() && !i.ddl.contains("due_work") {
        return Err(ParseError(
            "the DDL does not mention due_work; an index variant indexes leasebench's due_work table".into(),
        ));
    }
    if i.summary.is_empty() {
        i.summary = format!("user index from {}", path.display());
    }
    Ok(i)
}

fn sections(text: &str) -> Result<Vec<(String, Vec<String>)>, ParseError> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(sec) = t.strip_prefix("-- @").or_else(|| t.strip_prefix("--@")) {
            if let Some((name, stmts, pending)) = current.take() {
                out.push(finish(name, stmts, pending)?);
            }
            let sec = sec.trim().to_string();
            if out.iter().any(|(s, _)| *s == sec) {
                return Err(ParseError(format!(
                    "line {}: section @{sec} appears twice",
                    n + 1
                )));
            }
            current = Some((sec, Vec::new(), String::new()));
            continue;
        }
        let Some((_, stmts, pending)) = current.as_mut() else {
            if !t.is_empty() && !t.starts_with("--") {
                return Err(ParseError(format!(
                    "line {}: SQL before the first `-- @lease` section",
                    n + 1
                )));
            }
            continue;
        };
        if t.starts_with("--") || t.is_empty() {
            continue;
        }
        pending.push_str(line);
        pending.push('\n');
        if t.ends_with(';') {
            let stmt = pending.trim().trim_end_matches(';').trim().to_string();
            stmts.push(stmt);
            pending.clear();
        }
    }
    if let Some((name, stmts, pending)) = current.take() {
        out.push(finish(name, stmts, pending)?);
    }
    Ok(out)
}

fn finish(
    name: String,
    mut stmts: Vec<String>,
    pending: String,
) -> Result<(String, Vec<String>), ParseError> {
    let rest = pending.trim();
    if !rest.is_empty() {
        // A last statement without its `;` is still a statement.
        stmts.push(rest.to_string());
    }
    Ok((name, stmts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        let cat = Catalogue::load(&[], &[]).unwrap();
        let s = cat.strategy("update_returning").unwrap();
        assert!(s.safe && !s.batch && !s.consume);
        assert_eq!(s.lease.len(), 1);
        assert_eq!(s.complete.len(), 1);
        let r = s.render(1234, 7);
        assert!(r.lease[0].contains("interval '1234 milliseconds'"));
        assert_eq!(r.rescue, vec![DEFAULT_RESCUE.to_string()]);
        assert!(cat
            .index("pending_partial")
            .unwrap()
            .ddl
            .contains("WHERE status = 'pending'"));
        assert!(cat.index("none").unwrap().ddl.is_empty());
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let p = Path::new("x.sql");
        let no_safe = "-- @lease\nSELECT 1;\n-- @complete\nSELECT 1;";
        assert!(parse_strategy(no_safe, p).unwrap_err().0.contains("safe"));
        let no_lease = "-- safe: true\n-- @complete\nSELECT 1;";
        assert!(parse_strategy(no_lease, p)
            .unwrap_err()
            .0
            .contains("@lease"));
        let bad_bool = "-- safe: maybe\n-- @lease\nSELECT 1;";
        assert!(parse_strategy(bad_bool, p)
            .unwrap_err()
            .0
            .contains("true or false"));
        let bad_section = "-- safe: true\n-- @lease\nSELECT 1;\n-- @finish\nSELECT 1;";
        assert!(parse_strategy(bad_section, p)
            .unwrap_err()
            .0
            .contains("@finish"));
        let no_complete = "-- safe: true\n-- @lease\nSELECT 1;";
        assert!(parse_strategy(no_complete, p)
            .unwrap_err()
            .0
            .contains("@complete"));
    }

    #[test]
    fn empty_rescue_section_means_no_rescuer() {
        let base = "-- safe: true\n-- @lease\nSELECT 1 AS id;\n-- @complete\nSELECT 1;\n";
        let default = parse_strategy(base, Path::new("a.sql")).unwrap();
        assert_eq!(
            default.render(1, 1).rescue,
            vec![DEFAULT_RESCUE.to_string()]
        );
        let none = parse_strategy(
            &format!("{base}-- @rescue\n-- nothing expires\n"),
            Path::new("b.sql"),
        )
        .unwrap();
        assert!(none.render(1, 1).rescue.is_empty());
    }

    #[test]
    fn multi_statement_sections() {
        let text = "-- leasebench strategy: two\n-- safe: true\n-- lease_txn: true\n-- @lease\nSELECT id\n  FROM due_work;\nUPDATE due_work SET status='running' WHERE id = $1;\n-- @complete\nUPDATE due_work SET status='completed' WHERE id = $1";
        let s = parse_strategy(text, Path::new("t.sql")).unwrap();
        assert_eq!(s.name, "two");
        assert!(s.lease_txn);
        assert_eq!(s.lease.len(), 2);
        assert_eq!(s.lease[0], "SELECT id\n  FROM due_work");
        assert_eq!(s.complete.len(), 1);
    }
}
