//! `dashboard-bench`: how the dashboard copes with many TestJobs. Starts an in-process sandbox,
//! creates N finished TestJobs (status written, as the controller would have), starts
//! `testjob-operator dashboard` as a child process, and measures how long its first list takes,
//! how fast it serves the first page (p50, max over several requests), and its memory (peak RSS,
//! `VmHWM`). Prints a table and, as the last line, the same as JSON.
//!
//! `cargo build --release --bin testjob-operator && cargo run --release -p testjob-bench --bin dashboard-bench -- -n 10000`

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_sandbox::PodMode;
use serde_json::json;
use testjob_bench::measure::Latencies;
use testjob_bench::procfs::{Machine, ProcUsage};
use testjob_operator::crd::{TestJob, TestJobSpec};
use testjob_testkit::sandbox::{SandboxOptions, TestSandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The goals of issue 15.
const GOAL_FIRST_PAGE_MS: f64 = 200.0;
const GOAL_RSS_MIB: f64 = 64.0;

#[derive(Debug, Parser)]
#[command(
    name = "dashboard-bench",
    about = "Measures `testjob-operator dashboard` with many TestJobs"
)]
struct Args {
    /// TestJobs to create.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    jobs: usize,
    /// Requests per measured page.
    #[arg(long, default_value_t = 30)]
    requests: usize,
    /// Namespaces the jobs are spread over.
    #[arg(long, default_value_t = 5)]
    namespaces: usize,
    /// Browsers kept connected to the live stream during the measurement.
    #[arg(long, default_value_t = 20)]
    streams: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = testjob_testkit::operator::built_binary()?;
    let machine = Machine::detect();
    let sandbox = TestSandbox::start(SandboxOptions::with_pods(PodMode::Simulate)).await?;
    let client = sandbox.client().await?;
    testjob_operator::sandbox_cmd::install_crd(&client).await?;
    let namespaces: Vec<String> = (0..args.namespaces).map(|i| format!("team-{i}")).collect();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    for ns in &namespaces {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        ns_api.create(&PostParams::default(), &object).await?;
    }

    let started = Instant::now();
    futures::stream::iter(0..args.jobs)
        .map(|i| create_finished(client.clone(), namespaces[i % namespaces.len()].clone(), i))
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    let create_s = started.elapsed().as_secs_f64();
    eprintln!("created {} finished TestJobs in {create_s:.1}s", args.jobs);

    let mut dashboard = Dashboard::start(&binary, sandbox.kubeconfig_path(), sandbox.dir())?;
    let url = dashboard.url().await?;
    let ready_from = Instant::now();
    loop {
        if let Ok((200, _)) = get(&url, "/readyz").await {
            break;
        }
        dashboard.check_alive()?;
        if ready_from.elapsed() > Duration::from_secs(300) {
            bail!("the dashboard was not ready within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_s = dashboard.started.elapsed().as_secs_f64();

    // Browsers on the live stream: each is one broadcast receiver, not one API watch.
    let mut streams = Vec::new();
    for _ in 0..args.streams {
        let mut stream = tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await?;
        let host = url.trim_start_matches("http://").to_string();
        stream
            .write_all(format!("GET /events HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        streams.push(stream);
    }

    let first = measure(&url, "/", args.requests).await?;
    let (_, body) = get(&url, "/").await?;
    let rows = body.matches("<tr data-uid=").count();
    if rows == 0 {
        bail!("the first page shows no rows");
    }
    let filtered = measure(&url, "/?phase=Failed&q=bench-00", args.requests).await?;
    let last_page = measure(
        &url,
        &format!("/?page={}", args.jobs.div_ceil(100)),
        args.requests,
    )
    .await?;
    let job_page = measure(
        &url,
        &format!("/jobs/{}/bench-00007", namespaces[7 % namespaces.len()]),
        args.requests,
    )
    .await?;
    let usage = ProcUsage::of(dashboard.child.id())?;
    drop(streams);
    dashboard.stop();
    sandbox.shutdown().await;

    let rss_peak_mib = usage.rss_peak_kib as f64 / 1024.0;
    let rss_mib = usage.rss_kib as f64 / 1024.0;
    println!(
        "dashboard with {} TestJobs in {} namespaces, {} live streams open",
        args.jobs,
        namespaces.len(),
        args.streams
    );
    println!(
        "machine: {} CPUs ({}), load {:.2}",
        machine.cpus, machine.cpu_model, machine.load_average
    );
    println!("{:<28} {:>10} {:>10}", "", "p50 ms", "max ms");
    for (name, l) in [
        ("first page (/)", &first),
        ("filtered (/?phase&q)", &filtered),
        ("last page", &last_page),
        ("job page", &job_page),
    ] {
        println!("{name:<28} {:>10.1} {:>10.1}", l.percentile(50.0), l.max());
    }
    println!("first page rows: {rows}");
    println!("start to ready (first list): {ready_s:.2} s");
    println!(
        "RSS peak (VmHWM): {rss_peak_mib:.1} MiB, now {rss_mib:.1} MiB; CPU {} ms",
        usage.cpu_ms
    );
    let first_ok =
        first.percentile(50.0) <= GOAL_FIRST_PAGE_MS && first.max() <= GOAL_FIRST_PAGE_MS;
    let rss_ok = rss_peak_mib <= GOAL_RSS_MIB;
    println!(
        "goals: first page <= {GOAL_FIRST_PAGE_MS} ms: {}; RSS <= {GOAL_RSS_MIB} MiB: {}",
        if first_ok { "met" } else { "MISSED" },
        if rss_ok { "met" } else { "MISSED" }
    );
    let report = json!({
        "jobs": args.jobs,
        "namespaces": namespaces.len(),
        "streams": args.streams,
        "requests": args.requests,
        "createSeconds": create_s,
        "readySeconds": ready_s,
        "firstPageMs": {"p50": first.percentile(50.0), "max": first.max()},
        "filteredMs": {"p50": filtered.percentile(50.0), "max": filtered.max()},
        "lastPageMs": {"p50": last_page.percentile(50.0), "max": last_page.max()},
        "jobPageMs": {"p50": job_page.percentile(50.0), "max": job_page.max()},
        "rssPeakMiB": rss_peak_mib,
        "rssMiB": rss_mib,
        "cpuMs": usage.cpu_ms,
        "goalsMet": first_ok && rss_ok,
        "machine": {"cpus": machine.cpus, "load": machine.load_average},
    });
    println!("{report}");
    Ok(())
}

/// A finished TestJob: created, then its status written as the controller writes it.
async fn create_finished(client: kube::Client, namespace: String, i: usize) -> anyhow::Result<()> {
    let api: Api<TestJob> = Api::namespaced(client, &namespace);
    let name = format!("bench-{i:05}");
    let job = TestJob::new(
        &name,
        TestJobSpec::new(format!("suite-{}", i % 40).as_str()),
    );
    api.create(&PostParams::default(), &job)
        .await
        .with_context(|| format!("creating {name}"))?;
    let (phase, passed) = match i % 10 {
        0 | 1 => ("Failed", 3),
        2 => ("Cancelled", 0),
        _ => ("Succeeded", 4),
    };
    let results: Vec<_> = (0..4)
        .map(|step| {
            let status = if step < passed { "passed" } else { "failed" };
            json!({"name": format!("step {step}"), "status": status, "durationMs": 100 + step})
        })
        .collect();
    let now = k8s_openapi::jiff::Timestamp::now();
    let status = json!({"status": {
        "phase": phase,
        "attempt": 1,
        "podName": format!("{name}-1"),
        "startTime": now.to_string(),
        "completionTime": now.to_string(),
        "duration": "12s",
        "exitCode": if phase == "Failed" { 1 } else { 0 },
        "results": if phase == "Cancelled" { vec![] } else { results },
        "summary": {"total": 4, "passed": passed, "failed": 4 - passed, "skipped": 0},
        "result": format!("{passed}/4 passed"),
        "message": format!("runner exited with code {}: {passed} of 4 steps passed", i32::from(phase == "Failed")),
    }});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("writing the status of {name}"))?;
    Ok(())
}

struct Dashboard {
    child: Child,
    stdout: std::path::PathBuf,
    started: Instant,
}

impl Dashboard {
    fn start(binary: &Path, kubeconfig: &Path, dir: &Path) -> anyhow::Result<Dashboard> {
        let stdout = dir.join("dashboard.out");
        let started = Instant::now();
        let child = Command::new(binary)
            .args(["dashboard", "--listen", "127.0.0.1:0"])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(std::fs::File::create(dir.join("dashboard.log"))?)
            .stdin(Stdio::null())
            .spawn()
            .context("starting the dashboard")?;
        Ok(Dashboard {
            child,
            stdout,
            started,
        })
    }

    /// The URL the dashboard prints once it listens.
    async fn url(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if let Some(url) = out.lines().find_map(|l| l.strip_prefix("dashboard: ")) {
                return Ok(url.trim_end_matches('/').to_string());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!("the dashboard printed no URL within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the dashboard exited: {status}");
        }
        Ok(())
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over a fresh connection, as a browser's first visit: status and body.
async fn get(url: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let host = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .context("response timed out")??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, text))
}

/// `requests` sequential GETs of `path`; each must answer 200.
async fn measure(url: &str, path: &str, requests: usize) -> anyhow::Result<Latencies> {
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let start = Instant::now();
        let (status, _) = get(url, path).await?;
        samples.push(start.elapsed());
        if status != 200 {
            bail!("GET {path} answered {status}");
        }
    }
    Ok(Latencies::new(samples))
}
