//! `testjob-operator`: a thin entry point over the library (see `testjob_operator::cli`).

use clap::Parser;
use testjob_operator::cli::{Cli, execute};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    execute(Cli::parse()).await
}
