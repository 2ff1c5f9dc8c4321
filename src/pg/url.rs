//! Reading a user's `DATABASE_URL` and keeping its password out of sight.

use crate::error::{Error, Result};

/// Parse a libpq-style URL or key=value string. PG* environment variables
/// fill what the string leaves out, as libpq does.
pub fn parse(url: &str) -> Result<tokio_postgres::Config> {
    let mut cfg: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
        Error::usage(format!(
            "malformed database URL {:?}: {e}; expected postgres://user:password@host:port/dbname",
            redact(url)
        ))
    })?;
    apply_env_defaults(&mut cfg);
    if cfg.get_hosts().is_empty() {
        return Err(Error::usage(format!(
            "database URL {:?} names no host (and PGHOST is not set)",
            redact(url)
        )));
    }
    Ok(cfg)
}

fn apply_env_defaults(cfg: &mut tokio_postgres::Config) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if cfg.get_hosts().is_empty() {
        if let Some(h) = env("PGHOST") {
            cfg.host(&h);
        }
    }
    if cfg.get_ports().is_empty() {
        if let Some(p) = env("PGPORT").and_then(|p| p.parse().ok()) {
            cfg.port(p);
        }
    }
    if cfg.get_user().is_none() {
        if let Some(u) = env("PGUSER").or_else(|| env("USER")) {
            cfg.user(&u);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            cfg.password(p);
        }
    }
    if cfg.get_dbname().is_none() {
        if let Some(d) = env("PGDATABASE") {
            cfg.dbname(&d);
        }
    }
}

/// The URL with any password replaced by `***`, for output and results.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // userinfo ends at the last '@' before the first '/'.
        let (authority, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = userinfo.split(':').next().unwrap_or("");
                if userinfo.contains(':') {
                    format!("{user}:***@{}", &authority[at + 1..])
                } else {
                    authority.to_string()
                }
            }
            None => authority.to_string(),
        };
        let tail = redact_query_password(tail);
        format!("{scheme}://{authority}{tail}")
    } else {
        // key=value form
        url.split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***".to_string()
                } else {
                    kv.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// A short description of where a config points, without secrets.
pub fn describe(cfg: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        cfg.get_user().unwrap_or("?"),
        cfg.get_dbname().unwrap_or(cfg.get_user().unwrap_or("?"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://bob:s3cret@db.example:5432/app"),
            "postgres://bob:***@db.example:5432/app"
        );
        assert_eq!(
            redact("postgresql://bob@db/app?password=s3cret&sslmode=disable"),
            "postgresql://bob@db/app?password=***&sslmode=disable"
        );
        assert_eq!(
            redact("host=db password=s3cret user=bob"),
            "host=db password=*** user=bob"
        );
        assert_eq!(redact("postgres://db/app"), "postgres://db/app");
        assert!(!redact("postgres://u:p%40ss@h/d").contains("p%40ss"));
    }

    #[test]
    fn malformed_url_is_usage_error() {
        let err = parse("postgres://u:pw@host:notaport/db").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}
