//! What this process remembers of its own writes, in one place: the cache it reconciles from
//! lags behind them, so without this memory it would redo steps it has just taken.
//!
//! - a status write replaces a resourceVersion: a reconcile that still finds the job at that
//!   version reads a cache that has not seen the write yet (it would create a Pod that exists,
//!   or lose a Conflict), so it waits for the write's watch event instead;
//! - a final status written: the run queue must not hand the job a slot again while the cache
//!   still shows it waiting;
//! - a finished job's Pods cleaned up (or found gone): no need to look at them again.
//!
//! Entries live until the job is deleted ([`OwnWrites::forget`]), except that a final status is
//! forgotten once the cache shows the job finished ([`OwnWrites::observed`]): from then on the
//! cache says so itself, and a finished job costs one entry less. A new process starts empty and
//! relearns from the API, which is always safe, only slower.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard, PoisonError},
};

use kube::{Resource, ResourceExt};

use crate::crd::TestJob;

/// This process's memory of its own writes to TestJobs (see the module docs).
#[derive(Debug, Default)]
pub struct OwnWrites {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    /// For each job whose status this process wrote last, the resourceVersion the write replaced.
    replaced: HashMap<String, String>,
    /// Jobs this process wrote a final status for.
    finished: HashSet<String>,
    /// Finished jobs whose Pods this process cleaned up, or found nothing to clean.
    cleaned: HashSet<String>,
}

impl OwnWrites {
    fn lock(&self) -> MutexGuard<'_, Memory> {
        // Every update is a single insert or remove, so a panic elsewhere leaves it consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that this process replaced version `job` (as read) with a status write.
    pub fn wrote_status(&self, job: &TestJob) {
        if let Some(version) = &job.metadata.resource_version {
            self.lock().replaced.insert(key(job), version.clone());
        }
    }

    /// Whether `job` is a cached copy older than this process's last status write to it.
    /// Forgets the write once a newer copy shows up.
    pub fn is_superseded(&self, job: &TestJob) -> bool {
        let Some(version) = &job.metadata.resource_version else {
            return false;
        };
        let key = key(job);
        let mut memory = self.lock();
        match memory.replaced.get(&key) {
            Some(replaced) if replaced == version => true,
            Some(_) => {
                memory.replaced.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Records that this process wrote `job`'s final status.
    pub fn wrote_final_status(&self, job: &TestJob) {
        self.lock().finished.insert(key(job));
    }

    /// Whether this process wrote `job`'s final status (and so took care of its Pods).
    pub fn is_finished(&self, job: &TestJob) -> bool {
        self.is_finished_key(&key(job))
    }

    /// [`OwnWrites::is_finished`] by [`key`].
    pub fn is_finished_key(&self, key: &str) -> bool {
        self.lock().finished.contains(key)
    }

    /// Records that `job`'s runner Pods need no more cleanup while this process runs.
    pub fn cleaned_up(&self, job: &TestJob) {
        self.lock().cleaned.insert(key(job));
    }

    /// Whether [`OwnWrites::cleaned_up`] was called for `job`.
    pub fn is_cleaned_up(&self, job: &TestJob) -> bool {
        self.lock().cleaned.contains(&key(job))
    }

    /// Follows the controller's cache: once it shows `job` finished, the memory of having
    /// written its final status is no longer needed.
    pub fn observed(&self, job: &TestJob) {
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p.is_terminal());
        if finished {
            self.lock().finished.remove(&key(job));
        }
    }

    /// Forgets everything about `job`, which was deleted.
    pub fn forget(&self, job: &TestJob) {
        let key = key(job);
        let mut memory = self.lock();
        memory.replaced.remove(&key);
        memory.finished.remove(&key);
        memory.cleaned.remove(&key);
    }
}

/// Identifies a job: its UID (a job deleted and created again is another job), else
/// namespace/name.
pub fn key(job: &TestJob) -> String {
    match &job.meta().uid {
        Some(uid) => uid.clone(),
        None => format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{TestId, TestJobSpec};

    fn job(uid: &str, version: &str) -> TestJob {
        let mut job = TestJob::new("j", TestJobSpec::new(TestId::Int(1)));
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some(uid.into());
        job.metadata.resource_version = Some(version.into());
        job
    }

    #[test]
    fn a_status_write_supersedes_the_version_it_replaced_until_a_newer_one_arrives() {
        let writes = OwnWrites::default();
        assert!(!writes.is_superseded(&job("u1", "5")));
        writes.wrote_status(&job("u1", "5"));
        assert!(writes.is_superseded(&job("u1", "5")));
        assert!(
            writes.is_superseded(&job("u1", "5")),
            "stays until a newer copy"
        );
        assert!(!writes.is_superseded(&job("u1", "6")));
        assert!(
            !writes.is_superseded(&job("u1", "5")),
            "forgotten once newer was seen"
        );
        assert!(!writes.is_superseded(&job("u2", "5")), "per job");
    }

    #[test]
    fn final_status_and_cleanup_are_remembered_until_the_job_is_deleted() {
        let writes = OwnWrites::default();
        let j = job("u1", "5");
        writes.wrote_final_status(&j);
        writes.cleaned_up(&j);
        writes.wrote_status(&j);
        assert!(writes.is_finished(&j) && writes.is_finished_key("u1"));
        assert!(writes.is_cleaned_up(&j));
        // A job created again under the same name is another job.
        assert!(!writes.is_finished(&job("u2", "1")));
        writes.forget(&j);
        assert!(!writes.is_finished(&j) && !writes.is_cleaned_up(&j) && !writes.is_superseded(&j));
    }

    #[test]
    fn a_final_status_is_forgotten_once_the_cache_shows_it() {
        let writes = OwnWrites::default();
        let mut j = job("u1", "5");
        writes.wrote_final_status(&j);
        writes.cleaned_up(&j);
        writes.observed(&j);
        assert!(
            writes.is_finished(&j),
            "the cache still shows it unfinished"
        );
        j.status = Some(Box::new(crate::crd::TestJobStatus {
            phase: Some(crate::crd::Phase::Succeeded),
            ..Default::default()
        }));
        writes.observed(&j);
        assert!(!writes.is_finished(&j));
        assert!(writes.is_cleaned_up(&j), "cleanup is still remembered");
    }

    #[test]
    fn jobs_without_uid_are_keyed_by_namespace_and_name() {
        let mut j = job("u", "1");
        j.metadata.uid = None;
        assert_eq!(key(&j), "ns/j");
    }
}
