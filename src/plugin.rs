//! `kubectl testjob`, the kubectl plugin for CI and people: run a TestJob and wait for it with
//! an exit code (`run`, `rerun`), follow its runner's log, list jobs, print results, stored
//! reports and logs, cancel. It talks to the API server with kube-rs, the way the operator
//! does, and resolves kubeconfig, context and namespace as kubectl does.
//!
//! One module per command ([`run`] covers `run` and `rerun`), plus [`args`] (the command
//! line), [`client`] (the connection), [`wait`] (the watch until a final phase and the exit
//! codes), [`follow`] (log streaming), [`output`] (tables) and [`errors`].

pub mod args;
pub mod cancel;
pub mod client;
pub mod errors;
pub mod follow;
pub mod list;
pub mod logs;
pub mod output;
pub mod results;
pub mod run;
pub mod wait;

use args::{Cli, Command};
use errors::{EXIT_NOT_RUN, EXIT_PASSED, PluginError};

/// Runs the parsed command line and returns the process exit code; errors are printed as one
/// line on stderr.
pub async fn main(cli: Cli) -> u8 {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error}");
            EXIT_NOT_RUN
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, PluginError> {
    if cli.global.all_namespaces && !matches!(cli.command, Command::List(_)) {
        return Err(PluginError::other(
            "-A/--all-namespaces only applies to list",
        ));
    }
    let connection = client::connect(&cli.global).await?;
    match &cli.command {
        Command::Run(args) => run::run(&connection, args).await,
        Command::Rerun(args) => run::rerun(&connection, args).await,
        Command::List(args) => list::list(&connection, args, cli.global.all_namespaces)
            .await
            .map(|()| EXIT_PASSED),
        Command::Results(args) => results::results(&connection, &args.name, args.format)
            .await
            .map(|()| EXIT_PASSED),
        Command::Logs(args) => logs::logs(&connection, args).await.map(|()| EXIT_PASSED),
        Command::Cancel(args) => cancel::cancel(&connection, &args.name)
            .await
            .map(|()| EXIT_PASSED),
    }
}
