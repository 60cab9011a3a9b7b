//! `kubectl-testjob`: the `kubectl testjob` plugin (kubectl runs any `kubectl-<name>` on the
//! PATH). Everything lives in [`testjob_operator::plugin`].

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = testjob_operator::plugin::args::Cli::parse();
    ExitCode::from(testjob_operator::plugin::main(cli).await)
}
