//! Unit tests of the report: figures, goals, JSON, table and chart from a made-up run.
use super::*;
use clap::Parser;
use std::time::Duration;

fn report(args: &[&str]) -> Report {
    let args = BenchArgs::parse_from(std::iter::once("testjob-bench").chain(args.iter().copied()));
    let ms = Duration::from_millis;
    Report {
        machine: Machine::default(),
        dispatch: Latencies::new([ms(10), ms(20), ms(30)]),
        watch: Latencies::new([ms(5), ms(10), ms(15)]),
        dispatch_after_answer: Latencies::new([ms(8)]),
        watch_after_answer: Latencies::new([ms(1)]),
        idle_dispatch: Latencies::new([ms(9), ms(12)]),
        idle_watch: Latencies::new([ms(3), ms(4)]),
        handoff: None,
        create_seconds: 5.0,
        elapsed_seconds: 10.0,
        capacity: Capacity {
            writes: 4000,
            seconds: 2.0,
            concurrency: 32,
        },
        sequential: Capacity::default(),
        configmaps: Capacity::default(),
        min_writes_per_job: 4,
        operator_writes: Writes {
            total: 600,
            failed: 0,
            by_kind: [("create events.events.k8s.io".to_owned(), 200)].into(),
        },
        all_writes: Writes::default(),
        operator_requests: 900,
        usage_before: ProcUsage {
            cpu_ms: 100,
            ..ProcUsage::default()
        },
        usage_after: ProcUsage {
            rss_peak_kib: 40 * 1024,
            rss_kib: 30 * 1024,
            cpu_ms: 300,
        },
        own_cpu_ms: 600,
        sandbox_threads_cpu_ms: 450,
        usage_seconds: 1.0,
        phases: BTreeMap::from([("Succeeded".to_owned(), 100)]),
        unfinished: 0,
        undispatched: 0,
        leftover_pods: 0,
        duplicate_pods: vec![],
        timeline: [vec![0.0, 1.0], vec![0.5], vec![2.0]],
        rss_at_half_kib: 40_000,
        rss_at_end_kib: 40_100,
        load_curve: vec![crate::load::LoadPoint {
            fraction: 0.5,
            rate: 100.0,
            jobs: 10,
            undispatched: 0,
            dispatch: Latencies::new([Duration::from_millis(3)]),
            watch: Latencies::new([Duration::from_millis(1)]),
        }],
        stored: Stored {
            jobs: 2,
            testjob_bytes: 3000,
            event_bytes: 1000,
            configmap_bytes: 0,
        },
        report_cost: None,
        args,
    }
}

#[test]
fn figures_and_goals() {
    let r = report(&["-n", "100"]);
    assert_eq!(r.jobs_per_s(), 10.0);
    assert_eq!(r.capacity_jobs_per_s(), 500.0);
    assert_eq!(r.writes_per_job(), 6.0);
    // 2 of the 6 are Events, which the goal does not count.
    assert_eq!(r.state_writes_per_job(), 4.0);
    assert_eq!(r.dispatch_over_watch(), 2.0);
    assert_eq!(r.idle_dispatch_over_watch(), 3.0);
    assert_eq!(r.rss_mib(), 40.0);
    assert_eq!(r.cpu_ms_per_job(), 2.0);
    assert_eq!(r.own_cpu_ms_per_job(), 6.0);
    assert_eq!(r.sandbox_threads_cpu_ms_per_job(), 4.5);
    assert_eq!(r.clients_cpu_ms_per_job(), 1.5);
    // 100 KiB more after the second half's 50 jobs.
    assert_eq!(r.rss_kib_per_finished_job(), 2.0);
    assert_eq!(r.stored.per_job(), 2000.0);
    let met: Vec<bool> = r.goals().iter().map(|g| g.met).collect();
    // dispatch, idle, state writes (4 ≤ 4), throughput, marginal memory, operator CPU 2.0 ms,
    // sandbox 4.5 ms, peak RSS, 50% load (×3).
    assert_eq!(
        met,
        [true, true, true, false, false, false, false, true, true]
    );
    let json = r.json();
    assert_eq!(json["sandbox_server_cpu_ms_per_job"], 4.5);
    assert_eq!(json["bench_clients_cpu_ms_per_job"], 1.5);
    assert_eq!(json["rss_kib_per_finished_job"], 2.0);
    assert_eq!(json["storage_bytes_per_job"], 2000.0);
    assert_eq!(json["load_curve"][0]["dispatch_over_watch"], 3.0);
    assert!(r.load_chart().is_some_and(|svg| svg.starts_with("<svg")));
}

#[test]
fn json_has_every_key_of_the_issue() {
    let json = report(&["-n", "100", "--max-running", "5"]).json();
    for key in ISSUE_FIGURES {
        assert!(json[key].is_number(), "{key} in {json}");
    }
    assert_eq!(json["writes_per_job_without_events"], 4.0);
    assert_eq!(json["max_running"], 5);
    // One line.
    assert!(!json.to_string().contains('\n'));
}

#[test]
fn table_and_chart_render() {
    let r = report(&["-n", "100"]);
    let table = r.table();
    assert!(
        table.contains("NOT met") && table.contains("dispatch"),
        "{table}"
    );
    assert!(r.chart().contains("<svg"));
}
