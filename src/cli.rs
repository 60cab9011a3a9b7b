//! The command line: `testjob-operator run` starts the controller, `testjob-operator crd` prints
//! the CustomResourceDefinition.

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::{
    config::{Config, LogFormat, RunArgs},
    crd, operator,
};

/// A Kubernetes-native runner for long test runs.
#[derive(Debug, Parser)]
#[command(name = "testjob-operator", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the current kubeconfig context, or in-cluster configuration.
    Run(RunArgs),
    /// Print the TestJob CustomResourceDefinition as YAML (apply it with `kubectl apply -f -`).
    Crd,
    /// Serve the read-only web dashboard: a live list of TestJobs, a page per job, the queue.
    Dashboard(crate::dashboard::DashboardArgs),
    /// The `report` sidecar of a runner Pod (started by the operator, not by hand): hands the
    /// runner's report file over once the runner exits.
    #[command(hide = true)]
    ReportSidecar(crate::sidecar::SidecarArgs),
    /// Start an in-memory cluster with the CRD and the controller, apply manifests, run until Ctrl-C.
    // A second sandbox (or an operator) on the same machine must not collide: metrics on a free
    // local port, printed in the log.
    #[cfg(feature = "sandbox")]
    #[command(mut_arg("metrics_addr", |arg| arg.default_value("127.0.0.1:0")))]
    Sandbox(crate::sandbox_cmd::SandboxArgs),
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::ReportSidecar(args) => crate::sidecar::run(args).await,
        Command::Crd => {
            print!("{}", crd::crd_yaml()?);
            Ok(())
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            init_tracing(args.run.observability.log_format);
            crate::sandbox_cmd::execute(args).await
        }
        Command::Dashboard(args) => {
            init_tracing(args.log_format);
            let client = kube::Client::try_default().await?;
            crate::dashboard::run(client, args).await
        }
        Command::Run(args) => {
            init_tracing(args.observability.log_format);
            let config = Config::try_from(args)?;
            let client = kube::Client::try_default().await?;
            if let Err(error) = operator::run(client, config).await {
                tracing::error!(category = error.category(), %error, "the operator stopped");
                return Err(error.into());
            }
            Ok(())
        }
    }
}

/// Logs on stderr, filtered by `RUST_LOG` (default `info`): human-readable text, or one JSON
/// object per line for log collectors.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (e.g. in tests) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
