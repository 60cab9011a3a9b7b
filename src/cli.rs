//! The command line: `testjob-operator run` starts the controller, `testjob-operator crd` prints
//! the CustomResourceDefinition.

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::{
    config::{Config, RunArgs},
    controller, crd,
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
    /// Start an in-memory cluster with the CRD and the controller, apply manifests, run until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox(crate::sandbox_cmd::SandboxArgs),
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Crd => {
            print!("{}", crd::crd_yaml()?);
            Ok(())
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            init_tracing();
            crate::sandbox_cmd::execute(args).await
        }
        Command::Run(args) => {
            init_tracing();
            let config = Config::try_from(args)?;
            let client = kube::Client::try_default().await?;
            controller::run(client, config).await?;
            Ok(())
        }
    }
}

/// Text logs on stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (e.g. in tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
