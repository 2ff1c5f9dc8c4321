//! Embeds sql/strategies/*.sql and sql/indexes/*.sql (the catalogue is data,
//! compiled in so the binary works from any directory) and records the git
//! revision for results.
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn embed(dir: &str, out: &mut String, konst: &str) {
    println!("cargo:rerun-if-changed={dir}");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    writeln!(out, "pub const {konst}: &[(&str, &str)] = &[").unwrap();
    for f in files {
        let abs = std::fs::canonicalize(&f).unwrap();
        println!("cargo:rerun-if-changed={}", f.display());
        writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            Path::new(dir)
                .join(f.file_name().unwrap())
                .display()
                .to_string(),
            abs.display().to_string()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn main() {
    let mut out = String::new();
    embed("sql/strategies", &mut out, "STRATEGIES");
    embed("sql/indexes", &mut out, "INDEXES");
    let out_dir = std::env::var("OUT_DIR").unwrap();
    std::fs::write(Path::new(&out_dir).join("catalogue.rs"), out).unwrap();

    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    println!(
        "cargo:rustc-env=LEASEBENCH_GIT_REV={rev}{}",
        if dirty { "-dirty" } else { "" }
    );
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    println!("cargo:rerun-if-changed=migrations");
}
