//! `testjob-operator`: a thin entry point over the library (see `testjob_operator::cli`).

use clap::Parser;
use testjob_operator::cli::{Cli, execute};

/// mimalloc instead of the system allocator: in `perf`, glibc's malloc and free were a third of
/// the controller's CPU time (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    execute(Cli::parse()).await
}
