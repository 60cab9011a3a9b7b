//! `scheduler-latency`: how long a reconcile trigger that is due *now* waits in the controller's
//! scheduler before it is emitted, next to what tokio-util's `DelayQueue` (upstream kube-runtime
//! 5.0.0's queue for every request) makes such an item wait. The operator's `Controller` runs on
//! the kube-runtime scheduler this workspace builds (`vendor/kube-runtime`, see
//! `vendor/README.md`). Prints a table and, as the last line, the same as JSON.
//!
//! `cargo run --release -p testjob-bench --bin scheduler-latency -- --samples 200`

use std::time::Duration;

use clap::Parser;
use futures::{StreamExt, channel::mpsc};
use kube::runtime::scheduler::{ScheduleRequest, scheduler};
use serde_json::json;
use testjob_bench::measure::Latencies;
use tokio::time::Instant;
use tokio_util::time::DelayQueue;

#[derive(Parser)]
#[command(about = "Wait of a due request in the controller's scheduler and in a DelayQueue")]
struct Args {
    /// Requests measured per queue.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Idle time between two requests, in milliseconds (the queues are empty in between, as at
    /// idle dispatch; not a multiple of 1 ms, so requests land anywhere in a timer tick).
    #[arg(long, default_value_t = 7.3)]
    gap_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let gap = Duration::from_secs_f64(args.gap_ms / 1000.0);

    let mut delay_queue = DelayQueue::new();
    let mut waits = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        tokio::time::sleep(gap).await;
        let start = Instant::now();
        delay_queue.insert_at(i, start);
        delay_queue.next().await;
        waits.push(start.elapsed());
    }
    let delay_queue = Latencies::new(waits);

    let (tx, rx) = mpsc::unbounded();
    let mut scheduled = scheduler(rx);
    let mut waits = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        tokio::time::sleep(gap).await;
        let start = Instant::now();
        tx.unbounded_send(ScheduleRequest {
            message: i,
            run_at: start,
        })?;
        scheduled.next().await;
        waits.push(start.elapsed());
    }
    let scheduler = Latencies::new(waits);

    let row = |name: &str, l: &Latencies| {
        println!(
            "{name:<44} p50 {:.3} ms, p90 {:.3} ms, max {:.3} ms ({} samples)",
            l.percentile(50.0),
            l.percentile(90.0),
            l.max(),
            l.len()
        );
    };
    row("DelayQueue::insert_at(now) → expired", &delay_queue);
    row("controller scheduler, due request → emitted", &scheduler);
    let summary = |l: &Latencies| json!({"p50": l.percentile(50.0), "p90": l.percentile(90.0), "max": l.max(), "samples": l.len()});
    println!(
        "{}",
        json!({
            "gap_ms": args.gap_ms,
            "delay_queue_ms": summary(&delay_queue),
            "scheduler_ms": summary(&scheduler),
        })
    );
    Ok(())
}
