//! Test support for the kubelet: an in-memory stand-in for the API server's pod store, and helpers to build
//! pods and read their status and logs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Kubelet, LogError, LogOptions, PodEvent, PodMode, PodStore, lock, status};

pub(super) const WAIT: Duration = Duration::from_secs(20);
pub(super) const NS: &str = "default";

/// A stand-in for the API server's store: a map of pods that reports every commit to the kubelet.
pub(super) struct MemStore {
    pods: Mutex<HashMap<String, Value>>,
    pub(super) objects: Mutex<HashMap<(String, String), Value>>,
    kubelet: OnceLock<Kubelet>,
    status_writes: AtomicUsize,
    rv: AtomicU64,
    /// Last state of pods whose graceful deletion the kubelet finished.
    finished: Mutex<Vec<Value>>,
    /// Events the kubelet recorded, in order.
    pub(super) events: Mutex<Vec<Value>>,
    version: watch::Sender<u64>,
}

impl MemStore {
    pub(super) fn start(mode: PodMode) -> Arc<Self> {
        let store = Arc::new(Self {
            pods: Mutex::new(HashMap::new()),
            objects: Mutex::new(HashMap::new()),
            kubelet: OnceLock::new(),
            status_writes: AtomicUsize::new(0),
            rv: AtomicU64::new(1),
            finished: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            version: watch::Sender::new(0),
        });
        let kubelet = Kubelet::start(mode, "sandbox", store.clone());
        let _ = store.kubelet.set(kubelet);
        store
    }

    pub(super) fn kubelet(&self) -> &Kubelet {
        self.kubelet
            .get()
            .unwrap_or_else(|| panic!("kubelet not started"))
    }

    pub(super) fn bump(&self, pod: &mut Value) {
        pod["metadata"]["resourceVersion"] =
            json!(self.rv.fetch_add(1, Ordering::SeqCst).to_string());
    }

    /// Commits under the store lock and reports while still holding it, as the contract allows.
    pub(super) fn commit(&self, name: &str, change: impl FnOnce(&mut Value)) {
        let mut pods = lock(&self.pods);
        let Some(pod) = pods.get_mut(name) else {
            return;
        };
        change(pod);
        self.bump(pod);
        self.kubelet()
            .observe(PodEvent::Applied(Arc::new(pod.clone())));
        drop(pods);
        self.version.send_modify(|v| *v += 1);
    }

    pub(super) fn create(&self, mut pod: Value) -> String {
        let uid = uuid::Uuid::new_v4().to_string();
        pod["metadata"]["uid"] = json!(uid);
        pod["metadata"]["namespace"] = json!(NS);
        // The scheduler's part: pods arrive bound to this node unless a test binds them elsewhere.
        if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
            pod["spec"]["nodeName"] = json!("sandbox");
        }
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        lock(&self.pods).insert(name.clone(), json!({}));
        self.commit(&name, |p| *p = pod);
        uid
    }

    /// A DELETE: graceful (deletionTimestamp) or, with grace 0, immediate.
    pub(super) fn delete(&self, name: &str, grace: i64) {
        if grace == 0 {
            let removed = lock(&self.pods).remove(name);
            if let Some(pod) = removed {
                self.kubelet().observe(PodEvent::Deleted(Arc::new(pod)));
            }
            self.version.send_modify(|v| *v += 1);
            return;
        }
        self.commit(name, |p| {
            p["metadata"]["deletionTimestamp"] = json!(status::rfc3339(chrono::Utc::now()));
            p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        });
    }

    pub(super) fn get(&self, name: &str) -> Option<Value> {
        lock(&self.pods).get(name).cloned()
    }

    /// `(reason, message)` of the recorded events.
    pub(super) fn event_texts(&self) -> Vec<(String, String)> {
        lock(&self.events)
            .iter()
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (text("reason"), text("message"))
            })
            .collect()
    }

    pub(super) fn writes(&self) -> usize {
        self.status_writes.load(Ordering::SeqCst)
    }

    pub(super) async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut rx = self.version.subscribe();
        let wait = async {
            loop {
                rx.borrow_and_update();
                if let Some(pod) = self.get(name).filter(|p| pred(p)) {
                    return pod;
                }
                let _ = rx.changed().await;
            }
        };
        match tokio::time::timeout(WAIT, wait).await {
            Ok(pod) => pod,
            Err(_) => panic!(
                "timed out waiting for {what}: {:#}",
                self.get(name).unwrap_or_default()
            ),
        }
    }

    pub(super) async fn wait_finished(&self, name: &str) -> Value {
        let mut rx = self.version.subscribe();
        let wait = async {
            loop {
                rx.borrow_and_update();
                let found = lock(&self.finished)
                    .iter()
                    .find(|p| p["metadata"]["name"] == name)
                    .cloned();
                if let Some(pod) = found {
                    return pod;
                }
                let _ = rx.changed().await;
            }
        };
        match tokio::time::timeout(WAIT, wait).await {
            Ok(pod) => pod,
            Err(_) => panic!(
                "deletion of {name} never finished: {:#}",
                self.get(name).unwrap_or_default()
            ),
        }
    }
}

impl PodStore for MemStore {
    fn update_pod(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        mutate: &mut dyn FnMut(&mut Value),
    ) -> bool {
        assert_eq!(namespace, NS);
        let mut pods = lock(&self.pods);
        let Some(pod) = pods.get_mut(name).filter(|p| p["metadata"]["uid"] == uid) else {
            return false;
        };
        mutate(pod);
        self.bump(pod);
        self.status_writes.fetch_add(1, Ordering::SeqCst);
        self.kubelet()
            .observe(PodEvent::Applied(Arc::new(pod.clone())));
        drop(pods);
        self.version.send_modify(|v| *v += 1);
        true
    }

    fn finish_pod_deletion(&self, _namespace: &str, name: &str, uid: &str) {
        let mut pods = lock(&self.pods);
        if pods.get(name).is_some_and(|p| p["metadata"]["uid"] == uid)
            && let Some(pod) = pods.remove(name)
        {
            lock(&self.finished).push(pod.clone());
            self.kubelet().observe(PodEvent::Deleted(Arc::new(pod)));
        }
        drop(pods);
        self.version.send_modify(|v| *v += 1);
    }

    fn record_event(&self, event: Value) {
        lock(&self.events).push(event);
    }

    fn get_object(&self, resource: &str, _namespace: &str, name: &str) -> Option<Value> {
        lock(&self.objects)
            .get(&(resource.to_string(), name.to_string()))
            .cloned()
    }
}

pub(super) fn exec_pod(name: &str, script: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]
        }
    })
}

pub(super) fn sim_pod(name: &str, annotations: Value) -> Value {
    json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
    })
}

pub(super) fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or_default()
}

pub(super) fn main_status(p: &Value) -> &Value {
    &p["status"]["containerStatuses"][0]
}

pub(super) fn condition<'a>(p: &'a Value, kind: &str) -> &'a Value {
    let conds = p["status"]["conditions"].as_array();
    conds
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

pub(super) async fn logs(
    store: &MemStore,
    name: &str,
    opts: LogOptions,
) -> Result<String, LogError> {
    let stream = store.kubelet().logs(NS, name, opts)?;
    let chunks = tokio::time::timeout(WAIT, stream.collect::<Vec<Bytes>>()).await;
    let chunks = chunks.unwrap_or_else(|_| panic!("log stream of {name} did not end"));
    Ok(String::from_utf8_lossy(&chunks.concat()).into_owned())
}

/// Processes of group `pgid` that are not zombies (an orphaned grandchild may await reaping by init).
pub(super) fn live_members(pgid: u32) -> usize {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .count()
}

pub(super) fn container_opts(container: &str) -> LogOptions {
    LogOptions {
        container: Some(container.into()),
        ..Default::default()
    }
}
