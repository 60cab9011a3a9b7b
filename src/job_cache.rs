//! The controller's TestJob cache: kube-runtime's store of (lean, trimmed) TestJobs, which lets
//! go of a finished job once nothing is left to do for it and keeps a compact record instead.
//!
//! A cluster keeps finished TestJobs for weeks (until their TTL, or for ever), and the controller
//! needs them least: once a finished job's notifications are delivered, its Pods cleaned up and
//! no TTL is pending, a reconcile of it decides nothing ("done"). Such a job is *retired*: it
//! leaves the store and only its UID and phase stay, for the metrics' gauges; about 40 bytes
//! instead of a whole `TestJob` (456 bytes inline, plus its strings) and its store key.
//!
//! Any later change to a retired job (a label, a deletion, an edit) arrives as a watch event and
//! puts the job back in the store, which triggers a reconcile as for any job; a reconcile that
//! decides "done" retires it again. A relist (start-up, a watch that expired) fills the store
//! with every job, as it always did, and the reconciles that follow retire the finished ones
//! again: nothing depends on the records surviving a relist.
//!
//! The store's writer lives here, behind one lock, because two places write it: the TestJob
//! watch (every event, before the controller sees it) and the reconciles (retiring). Retiring
//! compares resourceVersions under that lock, so a job is only retired as the version the
//! reconcile judged; a newer version in the store stays, and its event reconciles it.

use std::{
    collections::{BTreeMap, HashMap},
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Mutex, MutexGuard, PoisonError},
};

use kube::{
    Resource,
    runtime::{
        reflector::{self, ObjectRef, Store, store::Writer},
        watcher,
    },
};

use crate::crd::{Phase, TestJob};

/// The TestJob cache (see the module docs).
pub struct JobCache {
    inner: Mutex<Inner>,
    reader: Store<TestJob>,
}

struct Inner {
    writer: Writer<TestJob>,
    /// Retired jobs: UID → phase.
    retired: HashMap<u128, Phase>,
}

impl JobCache {
    /// An empty cache, and the store the controller reads.
    pub fn new() -> (Self, Store<TestJob>) {
        let (reader, writer) = reflector::store();
        let cache = JobCache {
            inner: Mutex::new(Inner {
                writer,
                retired: HashMap::new(),
            }),
            reader: reader.clone(),
        };
        (cache, reader)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each update below leaves the writer and the records consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a TestJob watch event, as kube-runtime's reflector does; a job that changes or
    /// goes is no longer retired.
    pub fn apply(&self, event: &watcher::Event<TestJob>) {
        let mut inner = self.lock();
        match event {
            watcher::Event::Apply(job) | watcher::Event::Delete(job) => {
                inner.retired.remove(&uid_key(job));
            }
            // The store now holds every job the list returned, finished ones included.
            watcher::Event::InitDone => inner.retired.clear(),
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
        inner.writer.apply_watcher_event(event);
    }

    /// Retires `job`, a reconcile of which decided that nothing is left to do, if it is finished
    /// (notifications delivered, not being deleted) and the store still holds the version the
    /// reconcile judged. Returns whether it did.
    pub fn retire(&self, job: &TestJob) -> bool {
        let Some(phase) = retirable_phase(job) else {
            return false;
        };
        let mut inner = self.lock();
        let current = self.reader.get(&ObjectRef::from_obj(job));
        let same_version = current.is_some_and(|c| {
            c.metadata.resource_version == job.metadata.resource_version
                && c.metadata.uid == job.metadata.uid
        });
        if !same_version {
            return false;
        }
        inner
            .writer
            .apply_watcher_event(&watcher::Event::Delete(job.clone()));
        inner.retired.insert(uid_key(job), phase);
        true
    }

    /// How many jobs are retired, by phase.
    pub fn retired_by_phase(&self) -> BTreeMap<&'static str, i64> {
        let mut counts = BTreeMap::new();
        for phase in self.lock().retired.values() {
            *counts.entry(phase.as_str()).or_default() += 1;
        }
        counts
    }

    /// The store of jobs not retired.
    pub fn store(&self) -> Store<TestJob> {
        self.reader.clone()
    }
}

impl std::fmt::Debug for JobCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobCache")
            .field("stored", &self.reader.state().len())
            .field("retired", &self.lock().retired.len())
            .finish()
    }
}

/// The phase a retired `job` is counted under, when it may be retired.
fn retirable_phase(job: &TestJob) -> Option<Phase> {
    let status = job.status.as_ref()?;
    let phase = status.phase.filter(|p| p.is_terminal())?;
    let settled =
        status.pending_notifications.is_empty() && job.meta().deletion_timestamp.is_none();
    settled.then_some(phase)
}

/// A job's UID as 128 bits: the UUID itself (kube-apiserver's UIDs are UUIDs), else a hash.
fn uid_key(job: &TestJob) -> u128 {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let hex: String = uid.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32
        && let Ok(key) = u128::from_str_radix(&hex, 16)
    {
        return key;
    }
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, uid).hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::crd::{TestId, TestJobSpec, TestJobStatus};

    fn job(name: &str, uid: &str, rv: &str, phase: Option<Phase>) -> TestJob {
        let mut job = TestJob::new(name, TestJobSpec::new(TestId::Int(1)));
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some(uid.into());
        job.metadata.resource_version = Some(rv.into());
        job.status = Some(Box::new(TestJobStatus {
            phase,
            ..TestJobStatus::default()
        }));
        job
    }

    const UID_A: &str = "0b7e7a9c-3f1d-4c8e-9a51-2d6f0e4b8c11";
    const UID_B: &str = "5c2d9e10-7a4b-4f3e-8d21-9b0c6a5e7f22";

    fn cache_with(jobs: &[TestJob]) -> (JobCache, Store<TestJob>) {
        let (cache, store) = JobCache::new();
        cache.apply(&watcher::Event::Init);
        for job in jobs {
            cache.apply(&watcher::Event::InitApply(job.clone()));
        }
        cache.apply(&watcher::Event::InitDone);
        (cache, store)
    }

    #[test]
    fn a_finished_job_leaves_the_store_and_is_counted() {
        let done = job("a", UID_A, "5", Some(Phase::Succeeded));
        let running = job("b", UID_B, "6", Some(Phase::Running));
        let (cache, store) = cache_with(&[done.clone(), running.clone()]);
        assert!(!cache.retire(&running), "a running job stays");
        assert!(cache.retire(&done));
        assert!(store.get(&ObjectRef::from_obj(&done)).is_none());
        assert!(store.get(&ObjectRef::from_obj(&running)).is_some());
        assert_eq!(cache.retired_by_phase(), BTreeMap::from([("Succeeded", 1)]));
    }

    #[test]
    fn only_the_version_judged_is_retired() {
        let old = job("a", UID_A, "5", Some(Phase::Succeeded));
        let (cache, store) = cache_with(std::slice::from_ref(&old));
        let newer = job("a", UID_A, "9", Some(Phase::Succeeded));
        cache.apply(&watcher::Event::Apply(newer.clone()));
        assert!(!cache.retire(&old), "a newer version came in meanwhile");
        assert!(store.get(&ObjectRef::from_obj(&newer)).is_some());
        assert!(cache.retired_by_phase().is_empty());
    }

    #[test]
    fn pending_notifications_and_deletions_keep_a_job() {
        let mut notifying = job("a", UID_A, "5", Some(Phase::Failed));
        if let Some(status) = notifying.status.as_mut() {
            status.pending_notifications = vec!["finished/1".into()];
        }
        let mut deleting = job("b", UID_B, "6", Some(Phase::Succeeded));
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let (cache, _) = cache_with(&[notifying.clone(), deleting.clone()]);
        assert!(!cache.retire(&notifying));
        assert!(!cache.retire(&deleting));
    }

    #[test]
    fn a_change_or_deletion_brings_it_back_or_forgets_it() {
        let done = job("a", UID_A, "5", Some(Phase::Failed));
        let (cache, store) = cache_with(std::slice::from_ref(&done));
        assert!(cache.retire(&done));
        let labelled = job("a", UID_A, "7", Some(Phase::Failed));
        cache.apply(&watcher::Event::Apply(labelled.clone()));
        assert!(store.get(&ObjectRef::from_obj(&labelled)).is_some());
        assert!(cache.retired_by_phase().is_empty());
        assert!(cache.retire(&labelled));
        cache.apply(&watcher::Event::Delete(labelled.clone()));
        assert!(store.get(&ObjectRef::from_obj(&labelled)).is_none());
        assert!(cache.retired_by_phase().is_empty());
    }

    #[test]
    fn a_relist_starts_over() {
        let done = job("a", UID_A, "5", Some(Phase::Succeeded));
        let (cache, store) = cache_with(std::slice::from_ref(&done));
        assert!(cache.retire(&done));
        cache.apply(&watcher::Event::Init);
        cache.apply(&watcher::Event::InitApply(done.clone()));
        cache.apply(&watcher::Event::InitDone);
        assert!(store.get(&ObjectRef::from_obj(&done)).is_some());
        assert!(cache.retired_by_phase().is_empty());
    }

    #[test]
    fn uids_are_keyed_by_their_bits() {
        let a = job("a", UID_A, "1", None);
        assert_eq!(uid_key(&a), 0x0b7e7a9c_3f1d_4c8e_9a51_2d6f0e4b8c11);
        let odd = job("a", "not-a-uuid", "1", None);
        let odd2 = job("a", "not-a-uuid-2", "1", None);
        assert_ne!(uid_key(&odd), uid_key(&odd2));
        assert_eq!(uid_key(&odd), uid_key(&odd.clone()));
    }
}
