//! `testjob-bench`: measures the operator on an in-memory cluster (see
//! `testjob_bench::run`). It prints a table, then as its last line one JSON object.
//!
//! `cargo run --release --bin testjob-bench -- -n 10000 --chart bench.svg`

use anyhow::Context as _;
use clap::Parser as _;
use testjob_bench::args::BenchArgs;
use testjob_bench::run::run;

// mimalloc rather than the system's allocator: allocation and freeing were a fifth of the CPU
// profiles of the controller and of the in-memory cluster (BENCHMARKS.md, issue 13).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = BenchArgs::parse();
    let chart = args.chart.clone();
    let report = run(args).await?;
    if let Some(path) = chart {
        std::fs::write(&path, report.chart())
            .with_context(|| format!("writing the chart to {}", path.display()))?;
        eprintln!("chart written to {}", path.display());
        if let Some(svg) = report.load_chart() {
            let load = path.with_file_name(format!(
                "{}-load.svg",
                path.file_stem().unwrap_or_default().to_string_lossy()
            ));
            std::fs::write(&load, svg)
                .with_context(|| format!("writing the load chart to {}", load.display()))?;
            eprintln!("load chart written to {}", load.display());
        }
    }
    print!("{}", report.table());
    println!("{}", report.json());
    Ok(())
}
