//! Helpers shared by the integration tests: run the real binary, start a
//! real throwaway cluster, and check nothing was left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use leasebench::pg::discover::{discover, PgInstall};
use leasebench::pg::LocalCluster;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_leasebench")
}

/// Run `leasebench args...` with extra env, killed after `limit`.
pub fn run_cli(args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn leasebench");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait leasebench"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("leasebench {args:?} did not finish within {limit:?}");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The newest Postgres found, as leasebench would choose it.
pub fn newest_install() -> PgInstall {
    discover(&[])
        .expect("discover")
        .into_iter()
        .next()
        .expect("no Postgres server binaries on this machine; .ci/run installs them")
}

/// A throwaway cluster for tests that play "the user's existing server".
pub async fn cluster(max_connections: u32) -> LocalCluster {
    LocalCluster::start(&newest_install(), max_connections, &[])
        .await
        .expect("start throwaway cluster")
}

/// A URL for `cluster`, with a password that must never be printed.
pub fn url_with_secret(c: &LocalCluster, secret: &str) -> String {
    format!(
        "postgres://leasebench:{secret}@127.0.0.1:{}/postgres",
        c.port
    )
}

pub async fn client(c: &LocalCluster) -> tokio_postgres::Client {
    leasebench::pg::connect(&c.config("postgres"), "test cluster")
        .await
        .expect("connect to test cluster")
}

/// The cluster dir leasebench announced on stderr ("... in /tmp/leasebench-pg-XXXX").
pub fn announced_cluster_dirs(stderr: &str) -> Vec<PathBuf> {
    stderr
        .lines()
        .filter_map(|l| l.split(" in ").last())
        .filter(|p| p.contains("leasebench-pg-"))
        .map(|p| PathBuf::from(p.trim()))
        .collect()
}

/// No postgres process runs on `dir`, and `dir` is gone.
pub fn assert_cleaned_up(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ps = Command::new("ps")
            .args(["-eo", "pid=,args="])
            .output()
            .unwrap();
        let running: Vec<String> = String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&*dir.to_string_lossy()) && l.contains("postgres"))
            .map(|l| l.to_string())
            .collect();
        if running.is_empty() && !dir.exists() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "left behind: dir exists={} processes={running:?}",
                dir.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A one-line error: exactly one non-empty stderr line, no panic, no backtrace.
pub fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{:?} should mention {needle:?}",
        lines[0]
    );
}

/// `leasebench run ARGS --no-progress --out <temp>`: must succeed, must
/// leave no cluster behind; returns the saved result and the output.
pub fn run_ok(args: &[&str]) -> (leasebench::results::RunResult, Output) {
    let out = tempfile::tempdir().unwrap();
    let mut all = vec![
        "run",
        "--no-progress",
        "--out",
        out.path().to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = run_cli(&all, &[], Duration::from_secs(180));
    assert!(o.status.success(), "{all:?}: {}", stderr(&o));
    for d in announced_cluster_dirs(&stderr(&o)) {
        assert_cleaned_up(&d);
    }
    let run = leasebench::results::RunResult::load(&out.path().join("latest.json")).unwrap();
    (run, o)
}

/// Block until leasebench's workers are leasing on the cluster in `dir`
/// (its own throwaway cluster, found through the socket in that dir), so a
/// test interrupts a cell that is really running. Panics after `limit`.
pub fn wait_for_workers(dir: &Path, limit: Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let deadline = Instant::now() + limit;
        loop {
            assert!(Instant::now() < deadline, "no workers leasing in {}", dir.display());
            let port = std::fs::read_to_string(dir.join("data/postmaster.pid"))
                .ok()
                .and_then(|t| t.lines().nth(3).and_then(|p| p.trim().parse::<u16>().ok()));
            if let Some(port) = port {
                let mut c = tokio_postgres::Config::new();
                c.host_path(dir).port(port).user("leasebench").dbname("postgres");
                if let Ok((client, conn)) = c.connect(tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let q = "SELECT count(*) FROM pg_stat_activity
                              WHERE application_name LIKE 'leasebench-worker/%' AND state = 'active'";
                    if let Ok(r) = client.query_one(q, &[]).await {
                        if r.get::<_, i64>(0) > 0 {
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

/// A `leasebench run` in the background on its own throwaway cluster.
pub struct Background {
    pub child: std::process::Child,
    err: std::io::BufReader<std::process::ChildStderr>,
    /// The cluster dir it announced.
    pub dir: PathBuf,
}

/// Start `leasebench run --no-progress --out OUT ARGS...` and return once
/// its first cell's workers are leasing.
pub fn start_run_until_leasing(args: &[&str], out: &Path) -> Background {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args(["run", "--no-progress", "--out"])
        .arg(out)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let dirs = announced_cluster_dirs(&first);
    assert_eq!(dirs.len(), 1, "{first}");
    wait_for_workers(&dirs[0], Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500));
    Background {
        child,
        err,
        dir: dirs[0].clone(),
    }
}

impl Background {
    /// Wait for it to end: its exit status and the rest of its stderr.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.err, &mut rest).unwrap();
        (self.child.wait().unwrap(), rest)
    }
}
