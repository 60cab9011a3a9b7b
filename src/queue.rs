//! The run queue behind `--max-running`: which TestJobs may start now, and which wait.
//!
//! A job needs a run slot to start its first attempt and keeps it until it is final (retries
//! included), so "holds a slot" and "phase Running" go together. The slot table is the authority,
//! guarded by one mutex so that concurrent reconciles never hand out more than the limit; it is
//! built from the controller's TestJob cache when the cache is first complete and checked against
//! it on every relist. The cache may lag behind the writes this process made, so it only serves
//! to rank the waiting jobs: priority (desc), then creation time (asc), then namespace and name.
//!
//! A freed slot goes at once to the first waiting job: it is reserved for that job in the table
//! and the job is woken through a channel the controller listens on (`Controller::reconcile_on`),
//! so no polling, no herd of woken jobs racing for one slot, and no slot left idle while a job
//! waits. A waiting job writes its `Queued` status once; it is woken, not rewritten, when its turn
//! comes.

use std::{
    cmp::Reverse,
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use futures::channel::mpsc;
use kube::{
    Resource, ResourceExt,
    runtime::{reflector::ObjectRef, reflector::Store, watcher},
};
use tracing::debug;

use crate::{
    crd::{Phase, TestJob},
    own_writes::{OwnWrites, key},
};

/// The queue's settings, from the operator's flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueConfig {
    /// At most this many TestJobs Running at once; 0 means no limit.
    pub max_running: usize,
    /// `priority` of jobs that set none.
    pub default_priority: i32,
}

/// Whether a job may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The job holds a run slot (now or already).
    Granted,
    /// No slot for the job now; it is woken when one frees up for it.
    Queued {
        /// Slots taken.
        running: usize,
        /// The limit.
        limit: usize,
    },
}

/// How full the queue is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Jobs holding a run slot.
    pub running: usize,
    /// Jobs waiting for one (as far as the cache knows).
    pub waiting: usize,
    /// The limit; 0 means none.
    pub limit: usize,
}

/// The run queue shared by all reconciles.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    state: Mutex<State>,
    /// Which jobs this process finished: the cache may still show them waiting.
    writes: Arc<OwnWrites>,
}

#[derive(Debug, Default)]
struct State {
    /// The controller's TestJob cache, once attached.
    store: Option<Store<TestJob>>,
    /// Where wakeups go (the controller's `reconcile_on` stream).
    wakeups: Option<mpsc::UnboundedSender<ObjectRef<TestJob>>>,
    /// Whether `holders` was built from a complete cache.
    initialized: bool,
    /// Jobs holding a run slot (Running, or woken to take a slot reserved for them), by [`key`].
    holders: HashMap<String, ObjectRef<TestJob>>,
}

impl Queue {
    /// An empty queue; [`Queue::attach`] binds it to the controller's cache. `writes` tells
    /// which jobs this process finished.
    pub fn new(config: QueueConfig, writes: Arc<OwnWrites>) -> Self {
        Queue {
            config,
            state: Mutex::new(State::default()),
            writes,
        }
    }

    /// The queue's settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Binds the queue to the controller's TestJob cache and returns the stream of jobs to wake,
    /// for `Controller::reconcile_on`. Starts over: the slot table is rebuilt from `store` once it
    /// is complete.
    pub fn attach(&self, store: Store<TestJob>) -> mpsc::UnboundedReceiver<ObjectRef<TestJob>> {
        let (sender, receiver) = mpsc::unbounded();
        let mut state = self.lock();
        *state = State {
            store: Some(store),
            wakeups: Some(sender),
            ..State::default()
        };
        receiver
    }

    /// Follows the controller's TestJob watch (called after the cache applied `event`): frees
    /// the slots of deleted jobs and checks the table against every complete relist.
    pub fn observe(&self, event: &watcher::Event<TestJob>) {
        let mut state = self.lock();
        match event {
            watcher::Event::Apply(job) if job_phase(job).is_some_and(Phase::is_terminal) => {
                // Finished elsewhere (another replica, or before this process saw it).
                let freed = state.holders.remove(&key(job)).is_some();
                if freed {
                    self.hand_out(&mut state, None);
                }
            }
            watcher::Event::Delete(job) => {
                if state.holders.remove(&key(job)).is_some() {
                    debug!(testjob = %job.name_any(), "deleted job freed its run slot");
                }
                self.hand_out(&mut state, None);
            }
            watcher::Event::InitDone => {
                if state.initialized {
                    resync(&mut state, &self.writes);
                } else {
                    initialize(&mut state);
                }
                self.hand_out(&mut state, None);
            }
            _ => {}
        }
    }

    /// Asks for a run slot for `job`, which wants to start. Free slots go to the waiting jobs
    /// in rank order, `job` among them: the others are reserved their slot and woken to take
    /// it, so a slot is never handed out twice nor left idle while someone waits.
    pub fn admit(&self, job: &TestJob) -> Admission {
        let mut state = self.lock();
        if !state.initialized {
            initialize(&mut state);
        }
        let mine = key(job);
        let limit = self.config.max_running;
        // A Running job (between attempts) holds its slot whatever the table says.
        if state.holders.contains_key(&mine) || limit == 0 || job_phase(job) == Some(Phase::Running)
        {
            state.holders.insert(mine, ObjectRef::from_obj(job));
            return Admission::Granted;
        }
        self.hand_out(&mut state, Some(job));
        if state.holders.contains_key(&mine) {
            Admission::Granted
        } else {
            Admission::Queued {
                running: state.holders.len(),
                limit,
            }
        }
    }

    /// Records that `job` is final (its final status is written): frees its slot, if it held
    /// one, and wakes the next waiting jobs.
    pub fn settle(&self, job: &TestJob) {
        let mut state = self.lock();
        state.holders.remove(&key(job));
        self.writes.wrote_final_status(job);
        self.hand_out(&mut state, None);
    }

    /// Whether `job` holds a run slot.
    pub fn holds(&self, job: &TestJob) -> bool {
        self.lock().holders.contains_key(&key(job))
    }

    /// Slots taken, jobs waiting and the limit, for metrics and logs.
    pub fn stats(&self) -> QueueStats {
        let state = self.lock();
        QueueStats {
            running: state.holders.len(),
            waiting: self.waiting(&state).len(),
            limit: self.config.max_running,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every step, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the free slots to the first waiting jobs (with `asking` among the candidates, in
    /// case the cache lacks it) and wakes those other than `asking`.
    fn hand_out(&self, state: &mut State, asking: Option<&TestJob>) {
        let limit = self.config.max_running;
        let free = limit.saturating_sub(state.holders.len());
        if limit == 0 || free == 0 {
            return;
        }
        let mut candidates = self.waiting(state);
        if let Some(job) = asking
            && !candidates.iter().any(|c| key(c) == key(job))
        {
            candidates.push(std::sync::Arc::new(job.clone()));
            candidates.sort_by_cached_key(|job| self.rank_key(job));
        }
        let asking = asking.map(key);
        for job in candidates.into_iter().take(free) {
            let key = key(&job);
            state
                .holders
                .insert(key.clone(), ObjectRef::from_obj(job.as_ref()));
            if asking.as_ref() == Some(&key) {
                continue;
            }
            debug!(testjob = %job.name_any(), "run slot reserved; waking the job");
            if let Some(sender) = &state.wakeups {
                // A closed channel means the controller stopped; nothing left to wake.
                let _ = sender.unbounded_send(ObjectRef::from_obj(job.as_ref()));
            }
        }
    }

    /// The cached jobs that wait for a slot, first in line first.
    fn waiting(&self, state: &State) -> Vec<std::sync::Arc<TestJob>> {
        let Some(store) = &state.store else {
            return vec![];
        };
        let mut waiting = store.state();
        waiting.retain(|job| {
            let key = key(job);
            is_waiting(job)
                && !state.holders.contains_key(&key)
                && !self.writes.is_finished_key(&key)
        });
        waiting.sort_by_cached_key(|job| self.rank_key(job));
        waiting
    }

    /// Sorts first in line first: priority (desc), creation time (asc), namespace, name.
    fn rank_key(&self, job: &TestJob) -> RankKey {
        start_order_key(
            job.spec.priority.unwrap_or(self.config.default_priority),
            job.meta()
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second()),
            job.namespace().unwrap_or_default(),
            job.name_any(),
        )
    }
}

/// The order waiting jobs start in, as a sort key (smallest first): priority (desc), creation
/// time in Unix seconds (asc, unknown last), namespace, name. Shared with the dashboard's queue
/// view, so that it shows the order the controller uses.
pub fn start_order_key(
    priority: i32,
    created: Option<i64>,
    namespace: String,
    name: String,
) -> RankKey {
    (
        Reverse(priority),
        created.unwrap_or(i64::MAX),
        namespace,
        name,
    )
}

/// See [`start_order_key`].
pub type RankKey = (Reverse<i32>, i64, String, String);

/// Builds the slot table from the cache: every Running job holds a slot.
fn initialize(state: &mut State) {
    let Some(store) = &state.store else {
        return;
    };
    state.holders = store
        .state()
        .iter()
        .filter(|job| job_phase(job) == Some(Phase::Running))
        .map(|job| (key(job), ObjectRef::from_obj(job.as_ref())))
        .collect();
    state.initialized = true;
    debug!(running = state.holders.len(), "run slot table built");
}

/// After a relist: drops holders that are gone or final, adopts Running jobs not yet counted
/// (e.g. started by a previous leader).
fn resync(state: &mut State, writes: &OwnWrites) {
    let Some(store) = &state.store else {
        return;
    };
    let jobs: HashMap<String, std::sync::Arc<TestJob>> = store
        .state()
        .into_iter()
        .map(|job| (key(&job), job))
        .collect();
    state.holders.retain(|key, _| {
        jobs.get(key)
            .is_some_and(|job| !job_phase(job).is_some_and(Phase::is_terminal))
    });
    for (key, job) in &jobs {
        if job_phase(job) == Some(Phase::Running) && !writes.is_finished_key(key) {
            state
                .holders
                .entry(key.clone())
                .or_insert_with(|| ObjectRef::from_obj(job.as_ref()));
        }
    }
}

fn job_phase(job: &TestJob) -> Option<Phase> {
    job.status.as_ref().and_then(|s| s.phase)
}

/// Whether `job` (as cached) waits to start.
fn is_waiting(job: &TestJob) -> bool {
    matches!(job_phase(job), None | Some(Phase::Pending))
        && !job.spec.is_cancelled()
        && job.meta().deletion_timestamp.is_none()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::crd::{TestJobSpec, TestJobStatus};
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
    use kube::runtime::reflector::{self, store::Writer};

    fn job(name: &str, priority: Option<i32>, created: i64, phase: Option<Phase>) -> TestJob {
        let mut job = TestJob::new(
            name,
            TestJobSpec {
                priority,
                ..TestJobSpec::new(1)
            },
        );
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some(format!("uid-{name}"));
        job.metadata.creation_timestamp = Some(Time(
            Timestamp::from_second(1_750_000_000 + created).expect("valid time"),
        ));
        job.status = phase.map(|phase| {
            Box::new(TestJobStatus {
                phase: Some(phase),
                ..TestJobStatus::default()
            })
        });
        job
    }

    struct Fixture {
        queue: Queue,
        writer: Writer<TestJob>,
        wakeups: mpsc::UnboundedReceiver<ObjectRef<TestJob>>,
    }

    impl Fixture {
        fn new(max_running: usize, jobs: &[TestJob]) -> Self {
            let (reader, mut writer) = reflector::store();
            writer.apply_watcher_event(&watcher::Event::Init);
            for job in jobs {
                writer.apply_watcher_event(&watcher::Event::InitApply(job.clone()));
            }
            writer.apply_watcher_event(&watcher::Event::InitDone);
            let queue = Queue::new(
                QueueConfig {
                    max_running,
                    default_priority: 0,
                },
                Arc::default(),
            );
            let wakeups = queue.attach(reader);
            queue.observe(&watcher::Event::InitDone);
            Fixture {
                queue,
                writer,
                wakeups,
            }
        }

        /// Applies `event` to the cache, then lets the queue see it, as the controller does.
        fn event(&mut self, event: watcher::Event<TestJob>) {
            self.writer.apply_watcher_event(&event);
            self.queue.observe(&event);
        }

        fn woken(&mut self) -> Vec<String> {
            let mut names = vec![];
            while let Ok(job) = self.wakeups.try_recv() {
                names.push(job.name);
            }
            names
        }
    }

    fn finished(mut job: TestJob) -> TestJob {
        job.status = Some(Box::new(TestJobStatus {
            phase: Some(Phase::Succeeded),
            ..TestJobStatus::default()
        }));
        job
    }

    /// A queue over a cache holding `jobs`, before it has seen the cache complete.
    fn unstarted(max_running: usize, default_priority: i32, jobs: &[TestJob]) -> Queue {
        let (reader, mut writer) = reflector::store();
        for job in jobs {
            writer.apply_watcher_event(&watcher::Event::Apply(job.clone()));
        }
        let queue = Queue::new(
            QueueConfig {
                max_running,
                default_priority,
            },
            Arc::default(),
        );
        drop(queue.attach(reader));
        queue
    }

    #[test]
    fn waiting_jobs_rank_by_priority_then_age_then_name() {
        let jobs = [
            job("old-low", None, 0, None),
            job("new-high", Some(10), 5, None),
            job("mid", Some(5), 3, Some(Phase::Pending)),
            job("old-high", Some(10), 1, None),
            job("b-same-second", None, 2, None),
            job("a-same-second", None, 2, None),
            job("negative", Some(-1), 0, None),
            job("running", Some(99), 0, Some(Phase::Running)),
            finished(job("done", Some(99), 0, None)),
        ];
        let queue = unstarted(1, 0, &jobs);
        let state = queue.lock();
        let order: Vec<String> = queue.waiting(&state).iter().map(|j| j.name_any()).collect();
        assert_eq!(
            order,
            [
                "old-high",
                "new-high",
                "mid",
                "old-low",
                "a-same-second",
                "b-same-second",
                "negative"
            ]
        );
    }

    #[test]
    fn default_priority_applies_to_jobs_without_one() {
        let jobs = [job("plain", None, 0, None), job("low", Some(3), 1, None)];
        let queue = unstarted(1, 5, &jobs);
        assert!(matches!(queue.admit(&jobs[1]), Admission::Queued { .. }));
        assert_eq!(queue.admit(&jobs[0]), Admission::Granted);
    }

    #[test]
    fn slots_go_to_the_first_in_line_and_never_exceed_the_limit() {
        let jobs: Vec<TestJob> = (0..6)
            .map(|i| job(&format!("j{i}"), Some(i % 3), i.into(), None))
            .collect();
        // Rank: j2 (p2, t2), j5 (p2, t5), j1, j4, j0, j3.
        let mut fixture = Fixture::new(2, &jobs);
        // Once the cache is complete, the free slots go to the first in line, who are woken.
        assert_eq!(fixture.woken(), ["j2", "j5"]);
        assert_eq!(
            fixture.queue.admit(&jobs[0]),
            Admission::Queued {
                running: 2,
                limit: 2
            }
        );
        assert_eq!(fixture.queue.admit(&jobs[5]), Admission::Granted);
        assert_eq!(
            fixture.queue.admit(&jobs[5]),
            Admission::Granted,
            "idempotent"
        );
        assert_eq!(fixture.queue.admit(&jobs[2]), Admission::Granted);
        assert!(matches!(
            fixture.queue.admit(&jobs[1]),
            Admission::Queued { .. }
        ));
        assert!(fixture.woken().is_empty());
        assert_eq!(
            fixture.queue.stats(),
            QueueStats {
                running: 2,
                waiting: 4,
                limit: 2
            }
        );

        // A finished job frees its slot for the next in line, at once.
        fixture.queue.settle(&jobs[2]);
        assert_eq!(fixture.woken(), ["j1"]);
        assert!(fixture.queue.holds(&jobs[1]), "reserved for j1");
        assert!(matches!(
            fixture.queue.admit(&jobs[4]),
            Admission::Queued { .. }
        ));
        assert!(fixture.woken().is_empty());
        assert_eq!(fixture.queue.admit(&jobs[1]), Admission::Granted);
        assert!(!fixture.queue.holds(&jobs[2]) && fixture.queue.writes.is_finished(&jobs[2]));
    }

    #[test]
    fn a_running_job_between_attempts_keeps_its_slot() {
        let jobs = [
            job("retrying", None, 5, Some(Phase::Running)),
            job("first", Some(9), 0, None),
        ];
        let queue = unstarted(1, 0, &jobs);
        assert_eq!(queue.admit(&jobs[0]), Admission::Granted);
        assert!(matches!(queue.admit(&jobs[1]), Admission::Queued { .. }));
    }

    #[test]
    fn concurrent_admissions_hand_out_exactly_the_free_slots() {
        let jobs: Vec<TestJob> = (0..40)
            .map(|i| job(&format!("j{i:02}"), None, i.into(), None))
            .collect();
        let fixture = Fixture::new(3, &jobs);
        let queue = Arc::new(fixture.queue);
        let granted: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|job| {
                    let queue = queue.clone();
                    scope.spawn(move || (queue.admit(job), job.name_any()))
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join().expect("thread") {
                    (Admission::Granted, name) => Some(name),
                    _ => None,
                })
                .collect()
        });
        let mut granted = granted;
        granted.sort();
        assert_eq!(granted, ["j00", "j01", "j02"], "only the first in line");
        assert_eq!(queue.stats().running, granted.len());
    }

    #[test]
    fn the_table_is_rebuilt_from_the_cache() {
        let jobs = [
            job("running-a", None, 0, Some(Phase::Running)),
            job("running-b", None, 1, Some(Phase::Running)),
            finished(job("done", None, 2, None)),
            job("waiting", None, 3, Some(Phase::Pending)),
        ];
        let mut fixture = Fixture::new(2, &jobs);
        assert_eq!(fixture.queue.stats().running, 2);
        assert!(fixture.queue.holds(&jobs[0]));
        assert_eq!(
            fixture.queue.admit(&jobs[3]),
            Admission::Queued {
                running: 2,
                limit: 2
            }
        );
        // A Running job finished by someone else (seen in the watch) frees its slot.
        fixture.event(watcher::Event::Apply(finished(jobs[0].clone())));
        assert_eq!(fixture.woken(), ["waiting"]);
        assert_eq!(fixture.queue.admit(&jobs[3]), Admission::Granted);
    }

    #[test]
    fn deleting_a_running_job_frees_its_slot() {
        let jobs = [
            job("running", None, 0, Some(Phase::Running)),
            job("next", None, 1, None),
        ];
        let mut fixture = Fixture::new(1, &jobs);
        assert!(matches!(
            fixture.queue.admit(&jobs[1]),
            Admission::Queued { .. }
        ));
        fixture.event(watcher::Event::Delete(jobs[0].clone()));
        assert_eq!(fixture.woken(), ["next"]);
        assert_eq!(fixture.queue.admit(&jobs[1]), Admission::Granted);
    }

    #[test]
    fn a_relist_drops_vanished_holders_and_adopts_running_jobs() {
        let jobs = [
            job("a", None, 0, Some(Phase::Running)),
            job("b", None, 1, None),
            job("c", None, 2, None),
        ];
        let mut fixture = Fixture::new(2, &jobs);
        assert_eq!(fixture.queue.admit(&jobs[1]), Admission::Granted);
        // Relist: `a` was deleted while the watch was down, `c` was started elsewhere.
        let mut c = jobs[2].clone();
        c.status = Some(Box::new(TestJobStatus {
            phase: Some(Phase::Running),
            ..TestJobStatus::default()
        }));
        fixture.event(watcher::Event::Init);
        fixture.event(watcher::Event::InitApply(jobs[1].clone()));
        fixture.event(watcher::Event::InitApply(c.clone()));
        fixture.event(watcher::Event::InitDone);
        assert!(!fixture.queue.holds(&jobs[0]));
        assert!(
            fixture.queue.holds(&jobs[1]),
            "granted, cache not caught up yet"
        );
        assert!(fixture.queue.holds(&c));
    }

    #[test]
    fn settled_and_cancelled_jobs_do_not_wait() {
        let mut cancelled = job("cancelled", Some(9), 0, None);
        cancelled.spec.cancel = Some(true);
        let jobs = [
            job("running", None, 0, Some(Phase::Running)),
            cancelled,
            job("rejected", Some(5), 1, None),
            job("next", None, 2, None),
        ];
        let mut fixture = Fixture::new(1, &jobs);
        // `rejected` finished without running (the cache still says waiting).
        fixture.queue.settle(&jobs[2]);
        fixture.woken();
        fixture.queue.settle(&jobs[0]);
        assert_eq!(fixture.woken(), ["next"]);
        assert_eq!(fixture.queue.stats().waiting, 0);
        assert!(fixture.queue.holds(&jobs[3]));
    }

    #[test]
    fn no_limit_grants_everything() {
        let jobs: Vec<TestJob> = (0..5)
            .map(|i| job(&format!("j{i}"), None, i.into(), None))
            .collect();
        let mut fixture = Fixture::new(0, &jobs);
        for job in &jobs {
            assert_eq!(fixture.queue.admit(job), Admission::Granted);
        }
        assert_eq!(fixture.queue.stats().running, 5);
        fixture.queue.settle(&jobs[0]);
        assert!(fixture.woken().is_empty());
    }
}
