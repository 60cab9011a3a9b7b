//! Watch streams (`?watch=1`) with kube-apiserver's resourceVersion semantics: synthetic ADDED
//! events for unset/"0", changes after N otherwise, 410 Expired as an ERROR event when N has left
//! the history, bookmarks, `timeoutSeconds`, and watch-list (`sendInitialEvents=true` ending with
//! the `k8s.io/initial-events-end` bookmark). Events are written one JSON object per line.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::errors::ApiError;
use crate::ops::to_view;
use crate::resource_types::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::store::{Change, ChangeType, KeySince, Obj, Since, StorageKey, meta_str};
use crate::table::{self, IncludeObject};

/// Which objects a list or watch selects.
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    pub fn matches(&self, rt: &ResourceType, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && meta_str(obj, "namespace") != ns
        {
            return false;
        }
        if let Some(sel) = &self.labels {
            let empty = serde_json::Map::new();
            let labels = obj["metadata"]["labels"].as_object().unwrap_or(&empty);
            if !sel.matches(labels) {
                return false;
            }
        }
        if let Some(sel) = &self.fields
            && !sel.matches(obj, &rt.group, &rt.kind)
        {
            return false;
        }
        true
    }
}

/// How events' objects are shown: as the object, or as a one-row Table.
pub enum Rendering {
    Object,
    Table(IncludeObject),
}

pub struct WatchRequest {
    pub rt: Arc<ResourceType>,
    pub filter: Filter,
    /// None: unset or "0".
    pub resource_version: Option<u64>,
    pub send_initial_events: bool,
    pub allow_bookmarks: bool,
    pub timeout: Option<Duration>,
    pub rendering: Rendering,
}

/// The Status object of the ERROR event that ends a watch whose resourceVersion left the history.
pub fn expired_status(requested: u64, oldest: u64) -> Value {
    crate::errors::expired(format!("too old resource version: {requested} ({oldest})")).status
}

/// One event line: `{"type":…,"object":…}` and a newline, in the field order of
/// apimachinery's `metav1.WatchEvent` (`Type` before `Object`), which Go's encoder keeps.
/// Clients that decode the event as a tagged union (kube-rs, serde's adjacently tagged enums)
/// read the tag first and decode the object once instead of buffering it.
/// `kind` is one of the fixed event types (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR): plain
/// ASCII words that need no escaping.
pub fn event_line(kind: &'static str, object: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(object.len() + kind.len() + 24);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// Validates the request and starts streaming; errors that precede the stream are returned.
pub fn start(
    state: Arc<State>,
    req: WatchRequest,
    shutdown: watch::Receiver<bool>,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(stream(state, req, tx, shutdown));
    Ok(rx)
}

struct Emitter {
    tx: mpsc::Sender<Bytes>,
    rendering: Rendering,
    rt: Arc<ResourceType>,
    headers_sent: bool,
}

impl Emitter {
    async fn send_raw(&mut self, kind: &'static str, object: &Value) -> bool {
        let line = event_line(kind, object.to_string().as_bytes());
        self.tx.send(line).await.is_ok()
    }

    async fn send(&mut self, kind: &'static str, obj: &Value) -> bool {
        let view = to_view(&self.rt, obj);
        let object = match &self.rendering {
            Rendering::Object => view,
            Rendering::Table(include) => {
                let t = table::to_table(
                    &self.rt,
                    &[view],
                    include,
                    json!({"resourceVersion": meta_str(obj, "resourceVersion")}),
                    self.headers_sent,
                    chrono::Utc::now(),
                );
                self.headers_sent = true;
                t
            }
        };
        self.send_raw(kind, &object).await
    }

    /// Sends a change's object as is, from the JSON bytes the change caches for every watcher;
    /// other renderings (tables, the events.k8s.io view) are built for this watcher.
    async fn send_change(&mut self, kind: &'static str, change: &Change) -> bool {
        if !matches!(self.rendering, Rendering::Object) || crate::events::is_events_v1(&self.rt) {
            return self.send(kind, &change.object).await;
        }
        let line = event_line(kind, &change.object_json());
        self.tx.send(line).await.is_ok()
    }

    async fn bookmark(&mut self, rv: u64, initial_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = match &self.rendering {
            Rendering::Object => json!({
                "kind": self.rt.kind,
                "apiVersion": self.rt.api_version(),
                "metadata": metadata,
            }),
            Rendering::Table(_) => json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": null,
                "rows": null,
            }),
        };
        self.send_raw("BOOKMARK", &object).await
    }
}

/// How often an idle watch with bookmarks allowed gets one (kube-apiserver: about a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// When the next bookmark is due (k8s: cacheWatcher.nextBookmarkTime): about every minute, and
/// two seconds before the watch times out so that the client resumes from a recent version.
/// `None` once that moment has passed.
fn next_bookmark_time(
    now: tokio::time::Instant,
    deadline: tokio::time::Instant,
) -> Option<tokio::time::Instant> {
    let heartbeat = now + BOOKMARK_EVERY;
    let at = match deadline.checked_sub(Duration::from_secs(2)) {
        Some(pre_timeout) if pre_timeout < heartbeat => pre_timeout,
        Some(_) => heartbeat,
        None => return None,
    };
    (at > now).then_some(at)
}

async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn stream(
    state: Arc<State>,
    req: WatchRequest,
    tx: mpsc::Sender<Bytes>,
    mut shutdown: watch::Receiver<bool>,
) {
    let key = StorageKey::of(&req.rt);
    let rt = req.rt.clone();
    let mut out = Emitter {
        tx,
        rendering: req.rendering,
        rt: rt.clone(),
        headers_sent: false,
    };
    // kube-apiserver ends watches without timeoutSeconds after a random 30–60 minutes.
    let timeout = req
        .timeout
        .unwrap_or_else(|| Duration::from_secs(rand::rng().random_range(1800..3600)));
    let deadline = tokio::time::Instant::now() + timeout;
    // Woken by writes of this resource only.
    let mut changed = state.store.subscribe_to(&key);
    let mut cursor = match req.resource_version {
        Some(rv) if !req.send_initial_events => {
            if let Since::Expired { oldest } = state.store.changes_since(rv) {
                out.send_raw("ERROR", &expired_status(rv, oldest)).await;
                return;
            }
            rv
        }
        _ => {
            let ns = req.filter.namespace.as_deref();
            let (items, rv) = state.store.list(&key, ns);
            for obj in items.iter().filter(|o| req.filter.matches(&rt, o)) {
                if !out.send("ADDED", obj).await {
                    return;
                }
            }
            if req.send_initial_events && !out.bookmark(rv, true).await {
                return;
            }
            rv
        }
    };
    let mut next_bookmark = next_bookmark_time(tokio::time::Instant::now(), deadline);
    let mut bookmark_due = false;
    loop {
        match state.store.changes_of(&key, cursor) {
            KeySince::Expired { oldest } => {
                out.send_raw("ERROR", &expired_status(cursor, oldest)).await;
                return;
            }
            KeySince::Changes { changes, upto } => {
                for change in changes {
                    if let Some(event) = classify(
                        &rt,
                        &req.filter,
                        change.change_type,
                        &change.object,
                        change.old.as_ref(),
                    ) && !out.send_change(event, &change).await
                    {
                        return;
                    }
                }
                // Writes of other resources move the cursor on too (bookmarks carry it).
                cursor = upto;
            }
        }
        // The bookmark follows the events up to the newest version, so that it names it.
        if std::mem::take(&mut bookmark_due) && !out.bookmark(cursor, false).await {
            return;
        }
        tokio::select! {
            res = changed.changed() => if res.is_err() { return },
            _ = tokio::time::sleep_until(deadline) => return,
            _ = sleep_until_some(next_bookmark) => {
                next_bookmark = next_bookmark_time(tokio::time::Instant::now(), deadline);
                bookmark_due = req.allow_bookmarks;
            }
            _ = shutdown.changed() => return,
            _ = out.tx.closed() => return,
        }
    }
}

/// The event a watcher with this filter sees for a change, if any: objects entering or leaving
/// the selection appear as ADDED or DELETED, as from the watch cache.
fn classify(
    rt: &ResourceType,
    filter: &Filter,
    change: ChangeType,
    new: &Obj,
    old: Option<&Obj>,
) -> Option<&'static str> {
    let now = filter.matches(rt, new);
    match change {
        ChangeType::Added => now.then_some("ADDED"),
        ChangeType::Deleted => {
            let before = old.is_none_or(|o| filter.matches(rt, o));
            before.then_some("DELETED")
        }
        ChangeType::Modified => {
            let before = old.is_some_and(|o| filter.matches(rt, o));
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }
}
