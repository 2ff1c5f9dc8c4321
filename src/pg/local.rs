//! The throwaway cluster: initdb into a temp dir, a free port on 127.0.0.1,
//! its socket in the temp dir; stopped and removed on drop.
//!
//! Postgres refuses to run as root, so when leasebench runs as root the
//! server (and initdb) run as the `postgres` OS user. The server gets its own
//! process group, so a terminal's Ctrl-C reaches leasebench only and
//! leasebench decides how the server stops; and it gets a parent-death
//! signal, so even a killed leasebench leaves no server running.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::pg::discover::PgInstall;

/// The OS user a cluster runs as when leasebench is root.
const SERVER_USER: &str = "postgres";
/// The database superuser initdb creates.
pub const SUPERUSER: &str = "leasebench";

/// A running throwaway cluster.
pub struct LocalCluster {
    pub install: PgInstall,
    pub port: u16,
    dir: Option<tempfile::TempDir>,
    child: Mutex<Option<Child>>,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    args: Vec<String>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("version", &self.install.version)
            .field("port", &self.port)
            .field("dir", &self.dir())
            .finish()
    }
}

impl LocalCluster {
    /// initdb and start a server sized for `max_connections`, with the
    /// user's `settings` on top. Blocks until it accepts connections.
    ///
    /// Call this from a thread that outlives the cluster (the main thread or
    /// a runtime worker, not a blocking-pool thread): the server's
    /// parent-death signal fires when the spawning thread exits.
    pub async fn start(
        install: &PgInstall,
        max_connections: u32,
        settings: &[(String, String)],
    ) -> Result<LocalCluster> {
        let run_as = server_user()?;
        let dir = tempfile::Builder::new()
            .prefix("leasebench-pg-")
            .tempdir()
            .map_err(|e| {
                Error::Cluster(format!("cannot create a temp dir for the cluster: {e}"))
            })?;
        let root = dir.path().to_path_buf();
        if let Some((uid, gid)) = run_as {
            nix::unistd::chown(&root, Some(uid), Some(gid)).map_err(|e| {
                Error::Cluster(format!(
                    "cannot hand {} to the postgres user: {e}",
                    root.display()
                ))
            })?;
            check_reachable(install, &root)?;
        }
        let data = root.join("data");
        let mut initdb = Command::new(install.tool("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        prepare(&mut initdb, install, run_as);
        let out = initdb.output().map_err(|e| {
            Error::Cluster(format!(
                "cannot run {}: {e}",
                install.tool("initdb").display()
            ))
        })?;
        if !out.status.success() {
            return Err(Error::Cluster(format!(
                "initdb failed ({}): {}",
                install.tool("initdb").display(),
                last_lines(&String::from_utf8_lossy(&out.stderr), 3)
            )));
        }
        let mut args = vec![
            "-c".to_string(),
            "listen_addresses=127.0.0.1".to_string(),
            "-c".to_string(),
            format!("unix_socket_directories={}", root.display()),
            "-c".to_string(),
            format!("max_connections={max_connections}"),
        ];
        for (k, v) in settings {
            args.push("-c".into());
            args.push(format!("{k}={v}"));
        }
        let mut cluster = LocalCluster {
            install: install.clone(),
            port: 0,
            dir: Some(dir),
            child: Mutex::new(None),
            run_as,
            args,
        };
        let mut last_err = String::new();
        // A free port can be taken between choosing and binding: try a few.
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.spawn_and_wait().await {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    last_err = e;
                    cluster.kill_server();
                    if !last_err.contains("could not bind")
                        && !last_err.contains("Address already in use")
                    {
                        break;
                    }
                }
            }
        }
        Err(Error::Cluster(format!(
            "Postgres {} did not start: {last_err}",
            install.version
        )))
    }

    fn paths(&self) -> (PathBuf, PathBuf) {
        let root = self.dir().expect("a running cluster has its dir");
        (root.join("data"), root.join("postgres.log"))
    }

    /// Start `postgres` on `self.port` and wait until it answers.
    async fn spawn_and_wait(&self) -> std::result::Result<(), String> {
        let (data, log) = self.paths();
        let logf = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        if let Some((uid, gid)) = self.run_as {
            let _ = nix::unistd::chown(&log, Some(uid), Some(gid));
        }
        let mut cmd = Command::new(self.install.tool("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf);
        prepare(&mut cmd, &self.install, self.run_as);
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot run {}: {e}",
                self.install.tool("postgres").display()
            )
        })?;
        *self.child.lock().expect("child lock") = Some(child);
        self.wait_ready(&log).await
    }

    async fn wait_ready(&self, log: &Path) -> std::result::Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.lock().expect("child lock").as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    return Err(format!(
                        "server exited ({status}): {}",
                        last_lines(&text, 3)
                    ));
                }
            }
            // Through our own socket: on 127.0.0.1 a server another process
            // started on the same port could answer in our place.
            let mut socket = tokio_postgres::Config::new();
            socket
                .host_path(self.dir().unwrap_or(Path::new("/nonexistent")))
                .port(self.port)
                .user(SUPERUSER)
                .dbname("postgres");
            match socket.connect(tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    let h = tokio::spawn(conn);
                    let ok = client.simple_query("SELECT 1").await.is_ok();
                    drop(client);
                    let _ = h.await;
                    if ok {
                        return Ok(());
                    }
                }
                Err(_) if Instant::now() < deadline => {}
                Err(e) => return Err(format!("not accepting connections after 60 s: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A libpq connection string for `dbname` on this cluster.
    pub fn conn_string(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={SUPERUSER} dbname={dbname}",
            self.port
        )
    }

    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        self.conn_string(dbname)
            .parse()
            .expect("static connection string")
    }

    /// The cluster's temp dir (removed on drop).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child
            .lock()
            .expect("child lock")
            .as_ref()
            .map(|c| c.id())
    }

    /// Restart the server in place on the same port (fast shutdown, then
    /// start), as `pg_ctl restart -m fast` would. Used by fault injection.
    pub async fn restart(&self) -> Result<()> {
        self.stop_server();
        self.spawn_and_wait()
            .await
            .map_err(|e| Error::Cluster(format!("Postgres did not come back after restart: {e}")))
    }

    /// Fast shutdown: SIGINT, then SIGQUIT, then SIGKILL if it will not go.
    fn stop_server(&self) {
        let Some(mut child) = self.child.lock().expect("child lock").take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        for (sig, wait) in [
            (nix::sys::signal::Signal::SIGINT, Duration::from_secs(30)),
            (nix::sys::signal::Signal::SIGQUIT, Duration::from_secs(5)),
            (nix::sys::signal::Signal::SIGKILL, Duration::from_secs(5)),
        ] {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            let _ = nix::sys::signal::kill(pid, sig);
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.wait();
    }

    fn kill_server(&self) {
        if let Some(mut child) = self.child.lock().expect("child lock").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the server and remove the temp dir now (drop does the same).
    pub fn stop(mut self) -> Result<()> {
        self.stop_server();
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            dir.close()
                .map_err(|e| Error::Cluster(format!("cannot remove {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop_server();
        // TempDir's own drop removes the directory.
    }
}

fn prepare(
    cmd: &mut Command,
    install: &PgInstall,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
) {
    use std::os::unix::process::CommandExt;
    if let Some(lib) = &install.lib {
        let mut paths = vec![lib.clone()];
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
            paths.extend(std::env::split_paths(&old));
        }
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("LD_LIBRARY_PATH", joined);
        }
    }
    // A locale the machine lacks would make initdb fail; leasebench asks for C.
    cmd.env("LC_ALL", "C").env_remove("LANG");
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid.as_raw()).gid(gid.as_raw()).current_dir("/");
        if let Ok(Some(user)) = nix::unistd::User::from_uid(uid) {
            cmd.env("HOME", user.dir).env("USER", &user.name);
        }
    }
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; this runs in the child between
    // fork and exec, after the uid change (which would clear the setting).
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGQUIT)
                .map_err(std::io::Error::from)
        });
    }
}

fn server_user() -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name(SERVER_USER) {
        Ok(Some(u)) => Ok(Some((u.uid, u.gid))),
        _ => Err(Error::Cluster(
            "leasebench runs as root and Postgres refuses to; create a `postgres` OS user \
             (Debian's postgresql package does) or run leasebench as another user"
                .into(),
        )),
    }
}

/// As root, the server runs as `postgres`: every directory on the way to the
/// binaries and the data dir must let that user through.
fn check_reachable(install: &PgInstall, data_root: &Path) -> Result<()> {
    for (what, path) in [("binaries", install.bin.as_path()), ("data dir", data_root)] {
        if let Some(blocker) = blocking_dir(path) {
            return Err(Error::Cluster(format!(
                "the postgres OS user cannot reach the {what} at {}: {} is not searchable by others; \
                 install Postgres where it can read (e.g. LEASEBENCH_PG_HOME=/opt/leasebench-pg \
                 scripts/install-postgres.sh 17) or set TMPDIR to a world-searchable directory",
                path.display(),
                blocker.display()
            )));
        }
    }
    Ok(())
}

fn blocking_dir(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let user = nix::unistd::User::from_name(SERVER_USER).ok().flatten()?;
    let mut p = PathBuf::new();
    for comp in path.components() {
        p.push(comp);
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode();
        let ok = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Some(p);
        }
    }
    None
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Cluster(format!("cannot find a free port on 127.0.0.1: {e}")))?;
    Ok(l.local_addr()
        .map_err(|e| Error::Cluster(e.to_string()))?
        .port())
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
