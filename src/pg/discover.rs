//! Finding Postgres server binaries on this machine.
//!
//! Looks, in order, in: `--pg-bin DIR`, `LEASEBENCH_PG_BIN` (colon-separated),
//! `.pg/*/bin` (what `scripts/install-postgres.sh` installs, next to the
//! current directory and next to this crate), `/usr/lib/postgresql/*/bin`,
//! `pg_config --bindir`, and `postgres` on `PATH`. Each found directory is
//! asked for its version with `postgres --version`. `LEASEBENCH_PG_DISCOVER=0`
//! turns the search off, leaving only `--pg-bin` and `LEASEBENCH_PG_BIN`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A Postgres server version, as `postgres --version` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PgVersion {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for PgVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl PgVersion {
    /// Parse `15.18`, `17.2`, `postgres (PostgreSQL) 15.18 (Debian ...)`,
    /// `16beta1`, or a `server_version` setting.
    pub fn parse(s: &str) -> Option<PgVersion> {
        let s = s.trim();
        let s = s.strip_prefix("postgres (PostgreSQL)").unwrap_or(s).trim();
        let token = s.split_whitespace().next()?;
        let digits_end = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let major_end = digits_end(token);
        let major: u32 = token[..major_end].parse().ok()?;
        let rest = &token[major_end..];
        let minor = match rest.strip_prefix('.') {
            Some(r) => r[..digits_end(r)].parse().unwrap_or(0),
            None => 0,
        };
        Some(PgVersion { major, minor })
    }

    /// Does a user's `--pg` selector (`15` or `15.4`) pick this version?
    pub fn matches(&self, selector: &str) -> bool {
        match selector.split_once('.') {
            Some((maj, min)) => maj.parse() == Ok(self.major) && min.parse() == Ok(self.minor),
            None => selector.parse() == Ok(self.major),
        }
    }
}

/// One set of Postgres server binaries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PgInstall {
    pub version: PgVersion,
    /// What `postgres --version` printed.
    pub version_text: String,
    pub bin: PathBuf,
    /// A `lib` dir next to `bin` (npm builds), put on `LD_LIBRARY_PATH`.
    pub lib: Option<PathBuf>,
    /// Where it was found (`--pg-bin`, `LEASEBENCH_PG_BIN`, `.pg`, ...).
    pub found_by: String,
}

impl PgInstall {
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// Probe a directory: it must hold `postgres` and `initdb`.
    pub fn probe(bin: &Path, found_by: &str) -> std::result::Result<PgInstall, String> {
        let postgres = bin.join("postgres");
        if !postgres.is_file() {
            return Err(format!("{} has no postgres binary", bin.display()));
        }
        if !bin.join("initdb").is_file() {
            return Err(format!("{} has no initdb binary", bin.display()));
        }
        let lib = bin
            .parent()
            .map(|p| p.join("lib"))
            .filter(|l| l.join("libpq.so.5").exists() || has_shared_libs(l));
        let mut cmd = Command::new(&postgres);
        cmd.arg("--version");
        if let Some(lib) = &lib {
            cmd.env("LD_LIBRARY_PATH", lib);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", postgres.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} --version failed: {}",
                postgres.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let version = PgVersion::parse(&text)
            .ok_or_else(|| format!("cannot read a version from {text:?}"))?;
        Ok(PgInstall {
            version,
            version_text: text,
            bin: bin.to_path_buf(),
            lib,
            found_by: found_by.to_string(),
        })
    }
}

fn has_shared_libs(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().contains(".so"))
        })
        .unwrap_or(false)
}

fn subdirs_bin(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every Postgres found, newest first. `explicit` are `--pg-bin` dirs: a
/// missing or broken one is an error, not skipped.
pub fn discover(explicit: &[PathBuf]) -> Result<Vec<PgInstall>> {
    let mut candidates: Vec<(PathBuf, String)> = Vec::new();
    let mut found: Vec<PgInstall> = Vec::new();
    for dir in explicit {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--pg-bin {}: no such directory",
                dir.display()
            )));
        }
        let inst = PgInstall::probe(dir, "--pg-bin")
            .map_err(|e| Error::usage(format!("--pg-bin {}: {e}", dir.display())))?;
        found.push(inst);
    }
    if let Ok(v) = std::env::var("LEASEBENCH_PG_BIN") {
        for d in v.split(':').filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(d);
            let inst = PgInstall::probe(&dir, "LEASEBENCH_PG_BIN")
                .map_err(|e| Error::usage(format!("LEASEBENCH_PG_BIN={d}: {e}")))?;
            found.push(inst);
        }
    }
    // LEASEBENCH_PG_DISCOVER=0: only the directories named explicitly.
    if std::env::var("LEASEBENCH_PG_DISCOVER").is_ok_and(|v| v == "0") {
        found.sort_by(|a, b| b.version.cmp(&a.version));
        return Ok(found);
    }
    let mut pg_homes = vec![
        PathBuf::from(".pg"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pg"),
    ];
    if let Ok(h) = std::env::var("LEASEBENCH_PG_HOME") {
        pg_homes.insert(0, PathBuf::from(h));
    }
    for home in pg_homes {
        for b in subdirs_bin(&home) {
            candidates.push((b, ".pg".into()));
        }
    }
    for b in subdirs_bin(Path::new("/usr/lib/postgresql")) {
        candidates.push((b, "/usr/lib/postgresql".into()));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
            candidates.push((PathBuf::from(d), "pg_config".into()));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("postgres").is_file() {
                candidates.push((d, "PATH".into()));
            }
        }
    }
    for (dir, by) in candidates {
        if let Ok(inst) = PgInstall::probe(&dir, &by) {
            found.push(inst);
        }
    }
    // One entry per real directory, first finder wins.
    let mut seen = std::collections::HashSet::new();
    found.retain(|i| {
        let real = std::fs::canonicalize(i.tool("postgres")).unwrap_or_else(|_| i.tool("postgres"));
        seen.insert(real)
    });
    for i in &mut found {
        if let Ok(abs) = std::fs::canonicalize(&i.bin) {
            i.bin = abs;
        }
    }
    found.sort_by(|a, b| b.version.cmp(&a.version));
    Ok(found)
}

/// The installs a run uses: those matching `--pg` selectors (one per
/// selector), or the newest.
pub fn select(found: &[PgInstall], selectors: &[String]) -> Result<Vec<PgInstall>> {
    if found.is_empty() {
        return Err(no_postgres());
    }
    if selectors.is_empty() {
        return Ok(vec![found[0].clone()]);
    }
    let mut out: Vec<PgInstall> = Vec::new();
    for sel in selectors {
        let sel = sel.trim();
        if sel.parse::<u32>().is_err() && PgVersion::parse(sel).is_none() {
            return Err(Error::usage(format!(
                "--pg {sel:?}: give a major version like 15 or a version like 15.4"
            )));
        }
        let pick = found.iter().find(|i| i.version.matches(sel)).ok_or_else(|| {
            Error::usage(format!(
                "--pg {sel}: no Postgres {sel} found (found: {}); install it with scripts/install-postgres.sh {} or point --pg-bin at its bin dir",
                found.iter().map(|i| i.version.to_string()).collect::<Vec<_>>().join(", "),
                sel.split('.').next().unwrap_or(sel)
            ))
        })?;
        if !out.iter().any(|o| o.bin == pick.bin) {
            out.push(pick.clone());
        }
    }
    Ok(out)
}

/// The error when no server can be had, listing all the ways to get one.
pub fn no_postgres() -> Error {
    Error::NoPostgres(
        "no Postgres server binaries found and no DATABASE_URL set; either install Debian's \
         postgresql package (apt-get install postgresql), set DATABASE_URL (or --database-url) \
         to a server, build with --features containers where Docker runs, or install one with \
         scripts/install-postgres.sh 17 (or point --pg-bin at a bin dir)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = PgVersion::parse("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").unwrap();
        assert_eq!((v.major, v.minor), (15, 18));
        assert_eq!(
            PgVersion::parse("17.2").unwrap(),
            PgVersion {
                major: 17,
                minor: 2
            }
        );
        assert_eq!(
            PgVersion::parse("16beta1").unwrap(),
            PgVersion {
                major: 16,
                minor: 0
            }
        );
        assert!(PgVersion::parse("garbage").is_none());
        assert!(v.matches("15") && v.matches("15.18") && !v.matches("15.1") && !v.matches("17"));
    }

    #[test]
    fn select_reports_unknown_versions() {
        let found = vec![PgInstall {
            version: PgVersion {
                major: 15,
                minor: 18,
            },
            version_text: String::new(),
            bin: "/x".into(),
            lib: None,
            found_by: "test".into(),
        }];
        assert_eq!(select(&found, &[]).unwrap().len(), 1);
        let err = select(&found, &["17".into()]).unwrap_err();
        assert!(err.to_string().contains("no Postgres 17 found"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(select(&found, &["abc".into()]).is_err());
        assert!(select(&[], &[])
            .unwrap_err()
            .to_string()
            .contains("DATABASE_URL"));
    }
}
