//! Reaching Postgres: a user's server (`url`), a throwaway cluster from
//! local binaries (`local`, found by `discover`), or a container (`container`,
//! behind the `containers` feature).
//!
//! Order: `--database-url` / `DATABASE_URL`, then local binaries, then the
//! containers feature, then an error listing all three ways.

#[cfg(feature = "containers")]
pub mod container;
pub mod discover;
pub mod local;
pub mod url;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Client, NoTls};

use crate::error::{Error, Result};
pub use discover::{PgInstall, PgVersion};
pub use local::LocalCluster;

/// Connections leasebench opens besides the workers: setup/observer,
/// producer, wait-event sampler, fault injector.
pub const OBSERVERS: u32 = 4;
/// Spare connections on a throwaway cluster beyond workers + observers.
const HEADROOM: u32 = 10;

/// Where a run's server comes from, before it is reached.
#[derive(Debug, Clone)]
pub enum Target {
    /// A server the user runs.
    Url(String),
    /// A throwaway cluster from these binaries.
    Local(PgInstall),
    /// A container (testcontainers), with this image tag.
    #[cfg(feature = "containers")]
    Container(String),
}

/// The targets a run sweeps, in order.
pub fn targets(
    database_url: Option<&str>,
    pg_bin: &[std::path::PathBuf],
    pg: &[String],
) -> Result<Vec<Target>> {
    if let Some(u) = database_url {
        if !pg.is_empty() {
            return Err(Error::usage(
                "--pg picks among local binaries; it cannot be used with DATABASE_URL / --database-url",
            ));
        }
        url::parse(u)?;
        return Ok(vec![Target::Url(u.to_string())]);
    }
    let found = discover::discover(pg_bin)?;
    if found.is_empty() {
        #[cfg(feature = "containers")]
        {
            let tags = if pg.is_empty() {
                vec![container::DEFAULT_TAG.to_string()]
            } else {
                pg.to_vec()
            };
            return Ok(tags.into_iter().map(Target::Container).collect());
        }
        #[cfg(not(feature = "containers"))]
        return Err(discover::no_postgres());
    }
    Ok(discover::select(&found, pg)?
        .into_iter()
        .map(Target::Local)
        .collect())
}

enum Backend {
    Url,
    Local(Box<LocalCluster>),
    #[cfg(feature = "containers")]
    Container(Box<container::Running>),
}

/// A reached server: how to connect, and what to stop when done.
pub struct Server {
    config: tokio_postgres::Config,
    /// Where it is, without secrets.
    pub label: String,
    backend: Backend,
}

impl Server {
    /// Reach a target: connect to a URL, or start a cluster / container
    /// sized for `max_workers`.
    pub async fn open(
        target: &Target,
        max_workers: u32,
        settings: &[(String, String)],
    ) -> Result<Server> {
        match target {
            Target::Url(u) => {
                if !settings.is_empty() {
                    return Err(Error::usage(
                        "--pg-setting applies to a throwaway cluster; on your own server change settings with ALTER SYSTEM",
                    ));
                }
                let config = url::parse(u)?;
                let label = url::describe(&config);
                let server = Server {
                    config,
                    label,
                    backend: Backend::Url,
                };
                // Fail early, with the server's reason, if it cannot be reached.
                server.connect("leasebench-setup").await?;
                Ok(server)
            }
            Target::Local(install) => {
                let max_conn = max_workers + OBSERVERS + HEADROOM;
                let cluster = LocalCluster::start(install, max_conn, settings).await?;
                let config = cluster.config("postgres");
                let label = format!(
                    "throwaway Postgres {} on 127.0.0.1:{} in {}",
                    install.version,
                    cluster.port,
                    cluster
                        .dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                );
                Ok(Server {
                    config,
                    label,
                    backend: Backend::Local(Box::new(cluster)),
                })
            }
            #[cfg(feature = "containers")]
            Target::Container(tag) => {
                let running = container::start(tag, max_workers + OBSERVERS + HEADROOM).await?;
                let config = running.config();
                let label = format!("container postgres:{tag} on 127.0.0.1:{}", running.port);
                Ok(Server {
                    config,
                    label,
                    backend: Backend::Container(Box::new(running)),
                })
            }
        }
    }

    pub fn is_throwaway(&self) -> bool {
        !matches!(self.backend, Backend::Url)
    }

    /// The throwaway cluster, when there is one.
    pub fn cluster_mut(&mut self) -> Option<&mut LocalCluster> {
        match &mut self.backend {
            Backend::Local(c) => Some(c),
            _ => None,
        }
    }

    /// Restart the server mid-run (fault injection): only a throwaway
    /// cluster leasebench started; never a user's server.
    pub async fn restart(&self) -> Result<()> {
        match &self.backend {
            Backend::Local(c) => c.restart().await,
            _ => Err(Error::usage(
                "--chaos restart restarts only a throwaway cluster leasebench started, not your server",
            )),
        }
    }

    /// Connection settings for `schema`'s work, tagged with `app`.
    pub fn config_for(&self, app: &str, schema: Option<&str>) -> tokio_postgres::Config {
        let mut c = self.config.clone();
        c.application_name(app);
        c.connect_timeout(std::time::Duration::from_secs(10));
        if let Some(schema) = schema {
            let opt = format!("-c search_path={schema}");
            let opts = match self.config.get_options() {
                Some(o) if !o.is_empty() => format!("{o} {opt}"),
                _ => opt,
            };
            c.options(&opts);
        }
        c
    }

    /// One connection, its driver task spawned.
    pub async fn connect(&self, app: &str) -> Result<Client> {
        connect(&self.config_for(app, None), &self.label).await
    }

    /// A connection for watching the server (pg_stat_activity is
    /// cluster-wide): to `template1` where allowed, so the watcher's own
    /// transactions do not count in the measured database's statistics;
    /// else to the run's database.
    pub async fn connect_observer(&self, app: &str) -> Result<Client> {
        let mut c = self.config_for(app, None);
        c.dbname("template1");
        match connect(&c, &self.label).await {
            Ok(client) => Ok(client),
            Err(_) => self.connect(app).await,
        }
    }

    /// One connection whose search_path is `schema`.
    pub async fn connect_schema(&self, app: &str, schema: &str) -> Result<Client> {
        connect(&self.config_for(app, Some(schema)), &self.label).await
    }

    /// A pool of `size` connections into `schema`.
    pub fn pool(&self, app: &str, schema: &str, size: usize) -> Result<Pool> {
        let mgr = Manager::from_config(
            self.config_for(app, Some(schema)),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(mgr)
            .max_size(size)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build connection pool: {e}")))
    }

    /// Stop what leasebench started (nothing for a user's server).
    pub async fn shutdown(self) -> Result<()> {
        match self.backend {
            Backend::Url => Ok(()),
            Backend::Local(c) => c.stop(),
            #[cfg(feature = "containers")]
            Backend::Container(r) => r.stop().await,
        }
    }
}

/// Connect and spawn the connection's driver.
pub async fn connect(config: &tokio_postgres::Config, label: &str) -> Result<Client> {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .map_err(|source| Error::Connect {
            target: label.to_string(),
            source,
        })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
