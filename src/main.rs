//! `testjob-operator`: a thin entry point over the library (see `testjob_operator::cli`).

use clap::Parser;
use testjob_operator::cli::{Cli, Command, execute};

// mimalloc rather than the system's allocator: allocation and freeing were a fifth of the CPU
// profiles of the controller and of the in-memory cluster (BENCHMARKS.md, issue 13). Built without
// transparent huge pages (the workspace's `no_thp` feature): with them the dashboard, the same
// binary, peaked over its 64 MiB goal.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
