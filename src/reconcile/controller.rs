//! The watches that drive reconciles: TestJobs (cached, with the run queue and the memory of
//! own writes following every event), the runner Pods they own (cached, for cleanup and for
//! judging running attempts), and the run queue's wakeups.

use std::sync::Arc;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self},
        reflector, watcher,
    },
};

use super::{
    Context,
    lean::{Lean, unwrap_event},
};
use crate::{
    crd::TestJob,
    job_cache::JobCache,
    pod::{MANAGED_BY_LABEL, MANAGER},
};

/// The kube-runtime `Controller` over `jobs` and their runner Pods in `pods` (both decoded
/// lean, as the caches keep them: see `super::lean`), wired to `ctx`:
/// the run queue follows the TestJob watch (slot table, deletions) and wakes queued jobs through
/// `reconcile_on`; the Pod cache serves cleanup. Call it again to start over (e.g. on a new
/// leadership term); `Controller::store` gives the TestJob cache.
pub fn controller(
    jobs: Api<Lean<TestJob>>,
    pods: Api<Lean<Pod>>,
    ctx: &Context,
) -> Controller<TestJob> {
    let (jobs_cached, job_cache) = JobCache::new();
    let jobs_cached = Arc::new(jobs_cached);
    ctx.set_job_cache(jobs_cached.clone());
    let (pod_cache, pod_writer) = reflector::store();
    let wakeups = ctx.queue.attach(job_cache.clone());
    let pods_listed = ctx.set_pod_cache(pod_cache);
    let queue = ctx.queue.clone();
    let health = ctx.health.clone();
    let writes = ctx.writes.clone();
    let notifier = ctx.notifier.get().cloned();
    let job_watch = watcher(jobs, watcher::Config::default()).map_ok(unwrap_event);
    let job_events = job_watch
        .inspect_ok(move |event| {
            jobs_cached.apply(event);
            queue.observe(event);
            match event {
                watcher::Event::Delete(job) => writes.forget(job),
                watcher::Event::Apply(job) | watcher::Event::InitApply(job) => {
                    writes.observed(job);
                    if let Some(notifier) = &notifier {
                        notifier.observe(job);
                    }
                }
                watcher::Event::Init | watcher::Event::InitDone => {}
            }
            // The cache now holds a complete list. (Waiting on `Store::wait_until_ready` instead
            // would race the controller's own wait: that signal wakes only its last waiter.)
            if matches!(event, watcher::Event::InitDone) {
                health.set_synced(true);
            }
        })
        .applied_objects();
    let pod_events = reflector::reflector(
        pod_writer,
        watcher(
            pods,
            watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}")),
        )
        .map_ok(unwrap_event),
    )
    .inspect_ok(move |event| {
        if matches!(event, watcher::Event::InitDone) {
            pods_listed.send_replace(true);
        }
    })
    .touched_objects();
    Controller::for_stream(job_events, job_cache)
        .owns_stream(pod_events)
        .reconcile_on(wakeups)
        .with_config(controller::Config::default().concurrency(ctx.config.concurrency))
}

/// The `Controller` above schedules every trigger through kube-runtime's scheduler; these tests
/// pin the behaviour of the patched copy in `vendor/kube-runtime` (see `vendor/README.md`): a
/// request that is due now is emitted on the same poll, without waiting for a timer tick.
#[cfg(test)]
mod scheduler_tests {
    use futures::{FutureExt, StreamExt};
    use kube::runtime::scheduler::{ScheduleRequest, scheduler};
    use tokio::time::{Duration, Instant};

    fn now(message: u32) -> ScheduleRequest<u32> {
        ScheduleRequest {
            message,
            run_at: Instant::now(),
        }
    }

    #[tokio::test]
    async fn due_requests_are_emitted_at_once_in_arrival_order_and_deduplicated() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut scheduled = scheduler(rx);
        for message in [3, 1, 2, 1, 3] {
            tx.unbounded_send(now(message)).ok();
        }
        // Upstream 5.0.0 returns Pending here: its DelayQueue holds the items until the next
        // millisecond's timer fires.
        let emitted: Vec<u32> = (0..3)
            .map(|_| scheduled.next().now_or_never().flatten())
            .collect::<Option<_>>()
            .expect("due requests are ready on the first polls");
        assert_eq!(emitted, [3, 1, 2]);
        assert!(
            scheduled.next().now_or_never().is_none(),
            "duplicates were dropped"
        );
        // The scheduler ends with its stream of requests.
        drop(tx);
        assert_eq!(scheduled.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_due_request_replaces_a_later_one_and_a_requeue_still_waits() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let mut scheduled = scheduler(rx);
        let later = Instant::now() + Duration::from_secs(10);
        tx.unbounded_send(ScheduleRequest {
            message: 1,
            run_at: later,
        })
        .ok();
        tx.unbounded_send(ScheduleRequest {
            message: 2,
            run_at: later,
        })
        .ok();
        assert!(
            scheduled.next().now_or_never().is_none(),
            "nothing is due yet"
        );
        tx.unbounded_send(now(1)).ok();
        assert_eq!(scheduled.next().now_or_never().flatten(), Some(1));
        // 1's later entry is gone; 2 still runs at its time, not before.
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(scheduled.next().now_or_never().is_none());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(scheduled.next().await, Some(2));
        drop(tx);
        assert_eq!(scheduled.next().await, None);
    }
}
