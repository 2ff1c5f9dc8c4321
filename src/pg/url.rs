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
/// Errs on the side of hiding: the user part ends at the *last* `@` before
/// any `?` (a password may contain `/` or `@` unescaped), and a key=value
/// string that does not parse is hidden whole.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority_and_path = match before_query.rfind('@') {
            Some(at) => {
                let userinfo = &before_query[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{}", &before_query[at + 1..]),
                    None => before_query.to_string(),
                }
            }
            None => before_query.to_string(),
        };
        match query {
            Some(q) => format!("{scheme}://{authority_and_path}?{}", redact_query(q)),
            None => format!("{scheme}://{authority_and_path}"),
        }
    } else {
        redact_key_values(url).unwrap_or_else(|| "<connection string hidden>".into())
    }
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// libpq's `key = value` form, values bare or 'single quoted' with
/// backslash escapes; `None` if it does not parse.
fn redact_key_values(s: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            value.push('\'');
            loop {
                let c = chars.next()?;
                value.push(c);
                match c {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    _ => {}
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        if key.is_empty() {
            return None;
        }
        if key.eq_ignore_ascii_case("password") {
            value = "***".into();
        }
        out.push(format!("{key}={value}"));
    }
    Some(out.join(" "))
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
        // Unescaped '/' and '@' in a password, quoted and spaced key=value.
        assert_eq!(
            redact("postgres://bob:pa/ss@db/app"),
            "postgres://bob:***@db/app"
        );
        assert_eq!(
            redact("postgres://bob:p@ss@db/app"),
            "postgres://bob:***@db/app"
        );
        assert_eq!(
            redact("host=db password='a b c' user=bob"),
            "host=db password=*** user=bob"
        );
        assert_eq!(redact("host=db password = s3cret"), "host=db password=***");
        assert_eq!(
            redact("host=db password='it\\'s' x=1"),
            "host=db password=*** x=1"
        );
        assert_eq!(
            redact("host=db password='unterminated"),
            "<connection string hidden>"
        );
    }

    #[test]
    fn malformed_url_is_usage_error() {
        let err = parse("postgres://u:pw@host:notaport/db").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}
