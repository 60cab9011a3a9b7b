//! `kube-sandbox serve`: run a sandbox as a process until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kube_sandbox::{FaultConfig, PodMode, Sandbox, SandboxConfig};
use tokio::signal::unix::{SignalKind, signal};

// mimalloc rather than the system's allocator: allocation and freeing were a fifth of the CPU
// profiles of the controller and of the in-memory cluster (BENCHMARKS.md, issue 13).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kube-sandbox",
    version,
    about = "An in-memory stand-in for kube-apiserver with a one-node kubelet"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Kubernetes API on loopback and write a kubeconfig for it.
    Serve {
        /// Where to write the kubeconfig (atomically, once the server is up).
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Loopback address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// How pods run: real local processes, or simulated from annotations.
        #[arg(long, value_enum, default_value_t = Pods::Exec)]
        pods: Pods,
        /// Changes kept for watches; older resourceVersions get 410 Expired.
        #[arg(long, default_value_t = 100_000)]
        watch_history: usize,
        #[command(flatten)]
        faults: FaultFlags,
    },
}

/// Faults to inject from the start; they can be changed later at `/sandbox/faults`.
#[derive(Args)]
struct FaultFlags {
    /// Fraction (0-1) of API requests answered with --fault-error-code instead.
    #[arg(long, default_value_t = 0.0)]
    fault_error_rate: f64,
    /// 500 (InternalError) or 429 (TooManyRequests with Retry-After).
    #[arg(long, default_value_t = 500)]
    fault_error_code: u16,
    /// Retry-After seconds of injected 429s.
    #[arg(long, default_value_t = 1)]
    fault_retry_after_seconds: u64,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    fault_latency_ms: u64,
    /// End watch streams after this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    fault_watch_close_after_seconds: u64,
    /// Hang every API request for this many seconds after start.
    #[arg(long, default_value_t = 0)]
    fault_pause_seconds: u64,
}

impl From<FaultFlags> for FaultConfig {
    fn from(f: FaultFlags) -> Self {
        FaultConfig {
            error_rate: f.fault_error_rate,
            error_code: f.fault_error_code,
            retry_after_seconds: f.fault_retry_after_seconds,
            latency_ms: f.fault_latency_ms,
            watch_close_after_seconds: f.fault_watch_close_after_seconds,
            pause_seconds: f.fault_pause_seconds,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Pods {
    Exec,
    Simulate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve {
        kubeconfig,
        listen,
        pods,
        watch_history,
        faults,
    } = Cli::parse().command;
    let sandbox = Sandbox::start(SandboxConfig {
        listen,
        pods: match pods {
            Pods::Exec => PodMode::Exec,
            Pods::Simulate => PodMode::Simulate,
        },
        watch_history,
        kubeconfig: Some(kubeconfig),
        faults: faults.into(),
    })
    .await
    .context("starting the sandbox")?;
    println!("ready {}", sandbox.url());
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sandbox.shutdown().await;
    Ok(())
}
