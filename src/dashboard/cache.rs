//! The dashboard's view of the cluster: one TestJob watch kept as a compact row per job, and a
//! broadcast of every change for the browsers' live updates.
//!
//! A row holds only what the list and the queue show (about 300 bytes), never the object: with
//! 10,000 jobs the index stays a few MiB. The watch lists in pages, so no full list of objects is
//! ever held either. After a relist (the watch expired) the index is compared with the new list
//! and only the differences are broadcast.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::crd::{Phase, TestJob};
use crate::dashboard::format::snippet;

/// Longest message kept in a row; the job page shows the whole message.
const MESSAGE_SNIPPET: usize = 160;
/// Changes buffered per browser before a slow one is told to reload instead.
const BROADCAST_CAPACITY: usize = 4096;
/// Recent changes kept for browsers that (re)connect: a page rendered at change N gets the changes
/// after N replayed, so nothing between rendering and subscribing is lost.
const RECENT_CHANGES: usize = 1024;

/// What the list shows of one TestJob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The index key: the UID (a job deleted and created again is another job).
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.testId` as text.
    pub test_id: String,
    /// `status.phase`; a job the controller has not picked up yet counts as Pending.
    pub phase: Phase,
    /// `status.result`, e.g. `4/5 passed`.
    pub result: Option<String>,
    /// `status.duration` once finished.
    pub duration: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// `status.startTime`, Unix seconds.
    pub started: Option<i64>,
    /// `status.completionTime`, Unix seconds.
    pub completed: Option<i64>,
    /// The start of `status.message`.
    pub message: Option<String>,
    /// `spec.priority`.
    pub priority: Option<i32>,
    /// `status.attempt`.
    pub attempt: Option<i32>,
    /// Whether the job waits for a run slot as the controller sees it (no phase or Pending, not
    /// cancelled, not being deleted).
    pub waiting: bool,
}

impl Row {
    /// The row of `job`.
    pub fn of(job: &TestJob) -> Row {
        let status = job.status.as_ref();
        let phase = status.and_then(|s| s.phase).unwrap_or(Phase::Pending);
        let meta = job.meta();
        Row {
            uid: key(job),
            namespace: job.namespace().unwrap_or_default(),
            name: job.name_any(),
            test_id: job.spec.test_id.to_string(),
            phase,
            result: status.and_then(|s| s.result.clone()),
            duration: status.and_then(|s| s.duration.clone()),
            created: meta
                .creation_timestamp
                .as_ref()
                .map_or(0, |t| t.0.as_second()),
            started: status.and_then(|s| s.start_time.as_ref().map(|t| t.0.as_second())),
            completed: status.and_then(|s| s.completion_time.as_ref().map(|t| t.0.as_second())),
            message: status
                .and_then(|s| s.message.as_deref())
                .map(|m| snippet(m, MESSAGE_SNIPPET)),
            priority: job.spec.priority,
            attempt: status.and_then(|s| s.attempt),
            waiting: phase == Phase::Pending
                && !job.spec.is_cancelled()
                && meta.deletion_timestamp.is_none(),
        }
    }
}

fn key(job: &TestJob) -> String {
    match &job.meta().uid {
        Some(uid) => uid.clone(),
        None => format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any()),
    }
}

/// One change, as sent to browsers: an SSE event name and its JSON data, serialised once for all.
#[derive(Debug)]
pub struct Change {
    /// Its number: changes are numbered 1, 2, ... in the order applied (the SSE event id).
    pub seq: u64,
    /// `upsert` or `delete`.
    pub event: &'static str,
    /// `{"row": Row, "was": previous phase or null, "wasWaiting": bool}`.
    pub data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangeData<'a> {
    row: &'a Row,
    /// The phase before, None for a new job: lets browsers keep their counts.
    was: Option<Phase>,
    /// Whether the job waited for a slot before.
    was_waiting: bool,
}

/// The shared index of rows and the broadcast of its changes.
#[derive(Debug)]
pub struct Index {
    state: RwLock<State>,
    changes: broadcast::Sender<Arc<Change>>,
}

#[derive(Debug, Default)]
struct State {
    rows: HashMap<String, Row>,
    /// The rows of a relist in progress, swapped in when it is complete.
    relist: Option<HashMap<String, Row>>,
    synced: bool,
    /// The number of the last change.
    seq: u64,
    /// The last [`RECENT_CHANGES`] changes, numbered consecutively up to `seq`.
    recent: VecDeque<Arc<Change>>,
}

/// What [`Index::subscribe_since`] found.
#[derive(Debug)]
pub enum Replay {
    /// The changes after the one asked for, then the receiver of every later change.
    Changes(Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>),
    /// The changes after the one asked for are no longer kept (or it is unknown): read again.
    TooOld,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            state: RwLock::default(),
            changes: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }
}

impl Index {
    /// A receiver of every change from now on, and the number of the last change before it.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Change>>, u64) {
        let state = self.read();
        (self.changes.subscribe(), state.seq)
    }

    /// The changes after change `since` and a receiver of all later ones, with no gap and no
    /// overlap (both taken under the lock that applying a change holds).
    pub fn subscribe_since(&self, since: u64) -> Replay {
        let state = self.read();
        let oldest = state.recent.front().map_or(state.seq + 1, |c| c.seq);
        if since > state.seq || since + 1 < oldest {
            return Replay::TooOld;
        }
        let missed = state
            .recent
            .iter()
            .filter(|c| c.seq > since)
            .cloned()
            .collect();
        Replay::Changes(missed, self.changes.subscribe())
    }

    /// Whether the first list is complete.
    pub fn synced(&self) -> bool {
        self.read().synced
    }

    /// Runs `f` over all rows (in no order) and the number of the last change they include,
    /// under the read lock.
    pub fn with_rows<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Row>, u64) -> T) -> T {
        let state = self.read();
        f(&mut state.rows.values(), state.seq)
    }

    /// Applies one watch event.
    pub fn apply(&self, event: watcher::Event<TestJob>) {
        let mut state = self.write();
        let mut changes = Vec::new();
        let mut seq = state.seq;
        let mut change = |event: &'static str, row: &Row, was: Option<&Row>| {
            seq += 1;
            if let Some(c) = make_change(seq, event, row, was) {
                changes.push(c);
            }
        };
        match event {
            watcher::Event::Init => state.relist = Some(HashMap::new()),
            watcher::Event::InitApply(job) => {
                let row = Row::of(&job);
                if let Some(relist) = state.relist.as_mut() {
                    relist.insert(row.uid.clone(), row);
                }
            }
            watcher::Event::InitDone => {
                let fresh = state.relist.take().unwrap_or_default();
                let old = std::mem::replace(&mut state.rows, fresh);
                if state.synced {
                    // A relist after the watch expired: only the differences.
                    for (uid, row) in &state.rows {
                        let was = old.get(uid);
                        if was != Some(row) {
                            change("upsert", row, was);
                        }
                    }
                    for (uid, row) in &old {
                        if !state.rows.contains_key(uid) {
                            change("delete", row, Some(row));
                        }
                    }
                } else {
                    // The first list: pages rendered before it (empty) must read again, so the
                    // number moves on with no change kept.
                    info!(jobs = state.rows.len(), "TestJob list complete");
                    seq += 1;
                    state.recent.clear();
                }
                state.synced = true;
            }
            watcher::Event::Apply(job) => {
                let row = Row::of(&job);
                let was = state.rows.get(&row.uid);
                if was != Some(&row) {
                    change("upsert", &row, was);
                    state.rows.insert(row.uid.clone(), row);
                }
            }
            watcher::Event::Delete(job) => {
                if let Some(row) = state.rows.remove(&key(&job)) {
                    change("delete", &row, Some(&row));
                }
            }
        }
        state.seq = seq;
        for change in changes {
            state.recent.push_back(change.clone());
            if state.recent.len() > RECENT_CHANGES {
                state.recent.pop_front();
            }
            if self.changes.receiver_count() > 0 {
                // No receiver is not an error: nobody is looking.
                drop(self.changes.send(change));
            }
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves rows that are still whole: keep serving them.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn make_change(seq: u64, event: &'static str, row: &Row, was: Option<&Row>) -> Option<Arc<Change>> {
    let data = ChangeData {
        row,
        was: was.map(|r| r.phase),
        was_waiting: was.is_some_and(|r| r.waiting),
    };
    match serde_json::to_string(&data) {
        Ok(data) => Some(Arc::new(Change { seq, event, data })),
        Err(error) => {
            warn!(%error, "cannot serialise a row");
            None
        }
    }
}

/// Follows the TestJobs of `api` into `index` until the process ends (the watcher retries with
/// backoff on errors, as the controller's does).
pub async fn follow(api: Api<TestJob>, index: Arc<Index>) {
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => index.apply(event),
            Err(error) => warn!(%error, "TestJob watch failed; retrying"),
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
