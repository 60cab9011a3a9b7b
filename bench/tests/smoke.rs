//! Smoke test of `testjob-bench`: a small run (debug build) completes, prints its table and ends
//! with one JSON object holding every figure the issue asks for, and writes its chart. No
//! figure is judged: timings on a shared debug build mean nothing.
//!
//! The operator binary is the one cargo built into the same target directory: `cargo test
//! --workspace` builds it (the operator's own tests need it); `cargo test -p testjob-bench`
//! alone needs a `cargo build --bin testjob-operator` first.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use serde_json::Value;
use testjob_bench::report::ISSUE_FIGURES;
use testjob_testkit::operator::built_binary;
use tokio::process::Command;

#[tokio::test]
async fn a_small_run_prints_the_table_and_the_json_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("bench.svg");
    let child = Command::new(env!("CARGO_BIN_EXE_testjob-bench"))
        .args(["-n", "40", "--max-running", "10", "--probes", "40"])
        .args(["--capacity-seconds", "0.5", "--timeout-seconds", "240"])
        .args(["--idle-jobs", "20", "--load-seconds", "1"])
        .arg("--operator")
        .arg(built_binary()?)
        .arg("--chart")
        .arg(&chart)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .context("testjob-bench did not finish in 300 s")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "testjob-bench failed: {}\n{stdout}\n{stderr}",
        output.status
    );

    let last = stdout.lines().last().context("no output")?;
    let json: Value = serde_json::from_str(last).with_context(|| format!("last line: {last}"))?;
    let more = [
        "idle_dispatch_ms_p50",
        "idle_watch_ms_p50",
        "idle_dispatch_over_watch",
        "slot_wait_ms_p50",
        "slot_wait_ms_p99",
        "rss_kib_per_finished_job",
        "storage_bytes_per_job",
    ];
    for key in ISSUE_FIGURES.iter().chain(&more) {
        ensure!(json[key].is_number(), "{key} missing in {json}");
    }
    ensure!(json["n"] == 40, "{json}");
    ensure!(json["phases"]["Succeeded"] == 40, "{json}");
    ensure!(
        json["unfinished"] == 0 && json["undispatched"] == 0 && json["duplicate_pods"] == 0,
        "{json}"
    );
    ensure!(json["watch_probes"] == 40, "{json}");
    ensure!(json["idle_samples"] == 20, "{json}");
    let curve = json["load_curve"].as_array().context("no load_curve")?;
    ensure!(curve.len() == 4, "{json}");
    for point in curve {
        ensure!(
            point["dispatch_ms_p50"].is_number()
                && point["watch_ms_p50"].is_number()
                && point["undispatched"] == 0,
            "{point}"
        );
    }
    ensure!(json["storage_bytes_per_job"].as_f64() > Some(0.0), "{json}");
    // The operator's own writes were counted (at least a Pod and two status writes per job).
    ensure!(json["writes_per_job"].as_f64() >= Some(3.0), "{json}");
    ensure!(
        stdout.contains("goal: dispatch p50"),
        "no table in\n{stdout}"
    );

    for path in [chart.clone(), dir.path().join("bench-load.svg")] {
        let svg = std::fs::read_to_string(&path)?;
        ensure!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{}",
            path.display()
        );
    }
    Ok(())
}
