//! Watches that record what the cluster did, as this process saw it, and that can be waited
//! on: a [`Tracker`] runs a kube-rs watcher into a state that [`Observe`]s its events;
//! [`Tracker::wait_for`] wakes on every event rather than polling.
//!
//! Times are this process's `Instant`s, taken when a watch event was handled, so that
//! latencies need no clock shared with the API server (whose timestamps have whole seconds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a [`Tracker`] does with the events of its watch.
pub trait Observe<K>: Send + 'static {
    /// Handles one event, which this process received at `at`.
    fn observe(&mut self, event: watcher::Event<K>, at: Instant);
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A kube-rs watcher feeding a state `S`, which can be read and waited on.
pub struct Tracker<S> {
    state: Arc<Mutex<S>>,
    version: watch::Receiver<u64>,
    errors: Arc<Mutex<Vec<String>>>,
    synced: Arc<AtomicBool>,
    _task: AbortOnDrop,
}

impl<S> Tracker<S> {
    /// Starts watching `api` (with `config`) into `state`.
    pub fn start<K>(api: Api<K>, config: watcher::Config, state: S) -> Self
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
        S: Observe<K>,
    {
        let state = Arc::new(Mutex::new(state));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let synced = Arc::new(AtomicBool::new(false));
        let (tx, version) = watch::channel(0u64);
        let task = tokio::spawn({
            let state = state.clone();
            let errors = errors.clone();
            let synced = synced.clone();
            async move {
                let mut events = std::pin::pin!(watcher(api, config).default_backoff());
                loop {
                    match events.next().await {
                        Some(Ok(event)) => {
                            let at = Instant::now();
                            if matches!(event, watcher::Event::InitDone) {
                                synced.store(true, Ordering::Release);
                            }
                            state
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .observe(event, at);
                            tx.send_modify(|v| *v += 1);
                        }
                        // The watcher retries with backoff; the errors are kept for reports.
                        Some(Err(error)) => errors
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(error.to_string()),
                        None => break,
                    }
                }
            }
        });
        Tracker {
            state,
            version,
            errors,
            synced,
            _task: AbortOnDrop(task),
        }
    }

    /// Waits until the watch has listed what exists, so that later changes arrive as events.
    pub async fn wait_synced(&self, limit: Duration) -> anyhow::Result<()> {
        let synced = self.synced.clone();
        self.wait_for("the watch's first list", limit, |_| {
            synced.load(Ordering::Acquire).then_some(())
        })
        .await
    }

    /// The state now.
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, to read from another task.
    pub fn shared(&self) -> Arc<Mutex<S>> {
        self.state.clone()
    }

    /// The watch errors so far (the watcher recovers from them by itself).
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `check` returns `Some`, looking again after every event, failing after
    /// `limit`.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&S) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut version = self.version.clone();
        loop {
            version.borrow_and_update();
            if let Some(value) = check(&self.state()) {
                return Ok(value);
            }
            tokio::select! {
                changed = version.changed() => {
                    if changed.is_err() {
                        bail!("the watch behind {what} ended");
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    bail!("timed out after {limit:?} waiting for {what}");
                }
            }
        }
    }
}

/// When each object was first seen, by name (watched with [`Tracker`]).
#[derive(Debug, Default)]
pub struct FirstSeen {
    /// Name → when this process first saw it.
    pub seen: HashMap<String, Instant>,
}

impl<K: Resource + Send + 'static> Observe<K> for FirstSeen {
    fn observe(&mut self, event: watcher::Event<K>, at: Instant) {
        if let watcher::Event::Apply(object) | watcher::Event::InitApply(object) = event {
            self.seen.entry(object.name_any()).or_insert(at);
        }
    }
}
