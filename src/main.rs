//! `testjob-operator`: a thin entry point over the library (see `testjob_operator::cli`).

use clap::Parser;
use testjob_operator::cli::{Cli, Command, execute};

// The system's allocator, not mimalloc: mimalloc took a quarter off the controller's CPU per job
// but raised the dashboard's peak RSS (same binary) from 36 to 72 MiB at 10,000 TestJobs, over its
// 64 MiB goal (BENCHMARKS.md, issue 13, third round).

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The controller waits on the API almost all the time: one thread does its work, and with
    // a pool every watch event and answer would wake another thread to take it (futex and
    // context switches were the largest single item of its CPU profile, see BENCHMARKS.md).
    // The in-memory cluster and the dashboard serve many clients at once and keep the pool.
    let mut builder = match cli.command {
        Command::Run(_) | Command::ReportSidecar(_) => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()?.block_on(execute(cli))
}
