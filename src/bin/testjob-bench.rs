//! `testjob-bench`: measures the operator on an in-memory cluster (see
//! `testjob_operator::bench::run`). It prints a table, then as its last line one JSON object.
//!
//! `cargo run --release --bin testjob-bench -- -n 10000 --chart bench.svg`

#[cfg(feature = "sandbox")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use anyhow::Context as _;
    use clap::Parser as _;
    use testjob_operator::bench::run::{BenchArgs, run};

    let args = BenchArgs::parse();
    let chart = args.chart.clone();
    let report = run(args).await?;
    if let Some(path) = chart {
        std::fs::write(&path, report.chart())
            .with_context(|| format!("writing the chart to {}", path.display()))?;
        eprintln!("chart written to {}", path.display());
    }
    print!("{}", report.table());
    println!("{}", report.json());
    Ok(())
}

/// Without the `sandbox` feature (container images) there is no cluster to measure on.
#[cfg(not(feature = "sandbox"))]
fn main() {
    eprintln!("testjob-bench needs the `sandbox` feature (on by default)");
    std::process::exit(2);
}
