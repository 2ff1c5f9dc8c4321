//! `leasebench plot`: a real short run, then its plots from the saved
//! result; and a clear one-line error on a missing file.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    announced_cluster_dirs, assert_cleaned_up, assert_one_line_error, run_cli, stderr, stdout,
};

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() > 24, "{} is too short", path.display());
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR", "{}", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn plot_draws_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = run_cli(
        &[
            "run",
            "--workers",
            "1,4",
            "--duration",
            "1s",
            "--no-progress",
            "--out",
            out,
        ],
        &[],
        Duration::from_secs(180),
    );
    assert_eq!(run.status.code(), Some(0), "run failed: {}", stderr(&run));
    for d in announced_cluster_dirs(&stderr(&run)) {
        assert_cleaned_up(&d);
    }

    let latest = dir.path().join("latest.json");
    let plot = run_cli(
        &["plot", latest.to_str().unwrap()],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(
        plot.status.code(),
        Some(0),
        "plot failed: {}",
        stderr(&plot)
    );
    let files: Vec<PathBuf> = stdout(&plot).lines().map(PathBuf::from).collect();

    // The run id is the stem of the JSON the run wrote next to latest.json.
    let run_id = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && n != "latest.json")
        .map(|n| n.trim_end_matches(".json").to_string())
        .next()
        .expect("the run wrote <run-id>.json");

    let mut want = Vec::new();
    for name in [
        "latency-run",
        "throughput",
        "cdf-run-pg", // followed by the version, strategy and index
    ] {
        for ext in ["png", "svg"] {
            let prefix = format!("{run_id}-{name}");
            let hit = files.iter().find(|f| {
                let n = f.file_name().unwrap().to_string_lossy();
                n.starts_with(&prefix) && n.ends_with(&format!(".{ext}"))
            });
            want.push(hit.unwrap_or_else(|| panic!("no {prefix}*.{ext} in {files:?}")));
        }
    }
    assert_eq!(files.len(), 6, "{files:?}");

    for f in &files {
        assert!(
            f.starts_with(dir.path()),
            "{} not next to the result",
            f.display()
        );
        assert!(f.exists(), "{} listed but missing", f.display());
        if f.extension().is_some_and(|e| e == "png") {
            assert_eq!(png_size(f), (1200, 800), "{}", f.display());
        } else {
            let s = std::fs::read_to_string(f).unwrap();
            assert!(s.contains("<svg"), "{}", f.display());
            assert!(
                s.contains(&run_id),
                "{} title lacks the run id",
                f.display()
            );
            assert!(
                s.contains("PostgreSQL"),
                "{} title lacks the version",
                f.display()
            );
        }
    }
    let latency = std::fs::read_to_string(want[1]).unwrap();
    for text in ["lease latency (ms", "workers (log scale)", "SLA p95 50 ms"] {
        assert!(latency.contains(text), "latency plot lacks {text:?}");
    }
    let throughput = std::fs::read_to_string(want[3]).unwrap();
    assert!(throughput.contains("throughput (leases/s)"));
    let cdf = std::fs::read_to_string(want[5]).unwrap();
    assert!(cdf.contains("percentile"), "CDF lacks its y axis label");

    // --out puts them elsewhere.
    let elsewhere = dir.path().join("plots");
    let plot = run_cli(
        &[
            "plot",
            latest.to_str().unwrap(),
            "--out",
            elsewhere.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(
        plot.status.code(),
        Some(0),
        "plot --out failed: {}",
        stderr(&plot)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 6);
}

#[test]
fn plot_of_a_missing_file_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-result.json");
    let o = run_cli(
        &["plot", missing.to_str().unwrap()],
        &[],
        Duration::from_secs(30),
    );
    assert_one_line_error(&o, 2, "no-such-result.json");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}
