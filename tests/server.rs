//! Against "the user's own server" (a real throwaway cluster the test
//! starts): schema safety, password hygiene, connection limits, wrong
//! passwords; and Ctrl-C cleanup of leasebench's own cluster.

mod common;

use std::time::Duration;

use common::*;
use leasebench::results::RunResult;

const T: Duration = Duration::from_secs(120);

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

/// `leasebench ARGS` against the server at `url`, off the async runtime.
async fn run_against(url: &str, args: &[&str]) -> std::process::Output {
    let url = url.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        run_cli(&args, &[("DATABASE_URL", &url)], T)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_server_touches_only_its_own_schema_and_hides_the_password() {
    let c = cluster(60).await;
    let db = client(&c).await;
    // The user's things: a due_work table in public and an unrelated schema.
    db.batch_execute(
        "CREATE TABLE public.due_work (id int PRIMARY KEY, note text);
         INSERT INTO public.due_work VALUES (1, 'mine'), (2, 'also mine');
         CREATE SCHEMA app; CREATE TABLE app.jobs (id int); INSERT INTO app.jobs VALUES (42);",
    )
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let secret = "s3cret-Pa55word";
    let url = url_with_secret(&c, secret);
    let out_s = out.path().to_str().unwrap();
    let o = run_against(
        &url,
        &[
            "run",
            "--workers",
            "1,3",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out_s,
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let all_output = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !all_output.contains(secret),
        "password printed: {all_output}"
    );
    // Results and plots (SVG text, PNG bytes) alike.
    for f in std::fs::read_dir(out.path()).unwrap() {
        let path = f.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "password in {}",
            path.display()
        );
    }
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    assert_eq!(run.cells.len(), 2);
    assert!(run.config.database_url.as_deref().unwrap().contains("***"));
    // The user's objects are as they were.
    let rows = db
        .query("SELECT id, note FROM public.due_work ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(1), "mine");
    let cols = count(&db, "SELECT count(*) FROM information_schema.columns WHERE table_schema='public' AND table_name='due_work'").await;
    assert_eq!(cols, 2, "public.due_work altered");
    let public_tables = count(
        &db,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    assert_eq!(public_tables, 1, "leasebench created something in public");
    let jobs = count(&db, "SELECT count(*) FROM app.jobs").await;
    assert_eq!(jobs, 1);
    // leasebench's schema is marked as its own, and a second run reuses it.
    let comment: String = db
        .query_one(
            "SELECT obj_description('leasebench'::regnamespace, 'pg_namespace')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment, leasebench::schema::MARKER);

    // A schema leasebench did not create is refused and left alone.
    let o = run_against(
        &url,
        &[
            "run",
            "--schema",
            "app",
            "--workers",
            "1",
            "--duration",
            "1s",
            "--out",
            out_s,
        ],
    )
    .await;
    assert_one_line_error(&o, 1, "was not created by leasebench");
    // ... while its own schema is reused by a second run.
    let again = run_against(
        &url,
        &[
            "run",
            "--workers",
            "2",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out_s,
        ],
    )
    .await;
    assert!(again.status.success(), "{}", stderr(&again));
    let jobs = count(&db, "SELECT count(*) FROM app.jobs").await;
    assert_eq!(jobs, 1);
    let app_tables = count(
        &db,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'app'",
    )
    .await;
    assert_eq!(app_tables, 1);
    drop(db);
    c.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_workers_than_the_server_allows_is_a_clear_error() {
    let c = cluster(20).await;
    let url = url_with_secret(&c, "x");
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    let o = run_against(
        &url,
        &["run", "--workers", "50", "--duration", "1s", "--out", out_s],
    )
    .await;
    assert_one_line_error(&o, 2, "--workers 50 needs 54 connections");
    c.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error() {
    let c = cluster(20).await;
    let db = client(&c).await;
    db.batch_execute("ALTER USER leasebench PASSWORD 'right-one'")
        .await
        .unwrap();
    let hba = c.dir().unwrap().join("data/pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    db.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = url_with_secret(&c, "wrong-one");
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    let o = run_against(
        &url,
        &["run", "--workers", "1", "--duration", "1s", "--out", out_s],
    )
    .await;
    assert_one_line_error(&o, 2, "password authentication failed");
    assert!(!stderr(&o).contains("wrong-one"));
    drop(db);
    c.stop().unwrap();
}

/// Ctrl-C mid-run: workers stop, the partial result is saved, the cluster
/// is stopped and its dir removed, the exit code is non-zero.
#[test]
fn ctrl_c_saves_partial_results_and_leaves_nothing_running() {
    let out = tempfile::tempdir().unwrap();
    let run = start_run_until_leasing(&["--workers", "2,4", "--duration", "60s"], out.path());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let dir = run.dir.clone();
    let (status, rest) = run.finish();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert_cleaned_up(&dir);
    let run = RunResult::load(&out.path().join("latest.json")).unwrap();
    assert!(run.partial);
    assert_eq!(run.cells.len(), 1, "only the interrupted first cell");
    assert!(run.cells[0].partial);
    assert!(run.cells[0].leased > 0);
    assert!(run.cells[0].duration_s < 30.0);
}
