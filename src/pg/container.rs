//! A Postgres container through testcontainers (feature `containers`).
//!
//! Needs a Docker engine at run time. It is compiled in CI but has not been
//! run on leasebench's own machines, which have no Docker engine.

use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

use crate::error::{Error, Result};

/// The pinned image tag used when `--pg` is not given.
pub const DEFAULT_TAG: &str = "17.2-alpine";

/// A running container; dropping it removes the container.
pub struct Running {
    container: ContainerAsync<Postgres>,
    pub port: u16,
}

/// Start `postgres:<tag>` (a bare major like `16` becomes `16-alpine`)
/// with fsync on and room for `max_connections`.
pub async fn start(tag: &str, max_connections: u32) -> Result<Running> {
    let tag = if tag.chars().all(|c| c.is_ascii_digit()) {
        format!("{tag}-alpine")
    } else {
        tag.to_string()
    };
    let max = format!("max_connections={max_connections}");
    let container = Postgres::default()
        .with_fsync_enabled()
        .with_tag(tag.clone())
        .with_cmd(["-c", "fsync=on", "-c", max.as_str()])
        .start()
        .await
        .map_err(|e| {
            Error::NoPostgres(format!(
                "cannot start container postgres:{tag} (is a Docker engine running?): {e}"
            ))
        })?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|e| Error::Cluster(format!("container postgres:{tag} has no port: {e}")))?;
    Ok(Running { container, port })
}

impl Running {
    pub fn config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password("postgres")
            .dbname("postgres");
        c
    }

    pub async fn stop(self) -> Result<()> {
        self.container
            .rm()
            .await
            .map_err(|e| Error::Cluster(format!("cannot remove the container: {e}")))
    }
}
