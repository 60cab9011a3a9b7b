//! The in-memory object store: what etcd plus the watch cache are to kube-apiserver.
//!
//! Every object lives under a storage key (group + plural; the two event views share one) and
//! `(namespace, name)`. One global counter gives every write its resourceVersion, and each write
//! is appended to a bounded history that watches (and the sandbox's own controllers) read from
//! their own cursor. A watch whose cursor fell out of the history gets 410 Expired, as from the
//! real watch cache. All methods are synchronous and short; the mutex is never held across an
//! await.
//!
//! Readers are woken per storage key ([`Store::subscribe_to`]) or on every write
//! ([`Store::subscribe`]): a watch of Pods has nothing to do when an Event is written, and with
//! a few writes of other kinds per Pod change, waking every watcher on every write cost more
//! than sending the events. A keyed reader reads the history through [`Store::changes_of`],
//! which expires its cursor only when a change of its own key was dropped after it, as
//! kube-apiserver's watch cache keeps one history per resource.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::Value;
use tokio::sync::watch;

use crate::resource_types::ResourceType;

pub type Obj = Arc<Value>;

/// Where a resource's objects are stored. Both event APIs map to the core one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

impl StorageKey {
    pub fn of(rt: &ResourceType) -> Self {
        let group = if rt.group == "events.k8s.io" && rt.plural == "events" {
            String::new()
        } else {
            rt.group.clone()
        };
        StorageKey {
            group,
            plural: rt.plural.clone(),
        }
    }

    pub fn new(group: &str, plural: &str) -> Self {
        StorageKey {
            group: group.into(),
            plural: plural.into(),
        }
    }
}

/// A stored object's address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub key: StorageKey,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watches see it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub key: StorageKey,
    pub namespace: String,
    pub name: String,
    pub change_type: ChangeType,
    /// The new state; for deletions the last state, stamped with the deletion's resourceVersion.
    pub object: Obj,
    /// The state before, for updates and deletions (selectors need it to turn updates into
    /// ADDED/DELETED for watchers whose selector the object enters or leaves).
    pub old: Option<Obj>,
    /// `object` serialised as JSON, filled by the first watcher that sends it and shared by
    /// all the others (one serialisation per change, not one per watcher).
    pub json: OnceLock<bytes::Bytes>,
}

impl Change {
    /// The stored object as JSON bytes, serialised once for every reader of this change.
    pub fn object_json(&self) -> bytes::Bytes {
        self.json
            .get_or_init(|| bytes::Bytes::from(self.object.to_string().into_bytes()))
            .clone()
    }
}

/// The changes of one storage key after a cursor ([`Store::changes_of`]).
pub enum KeySince {
    Changes {
        changes: Vec<Arc<Change>>,
        /// The cursor to read from next: the newest resourceVersion looked at, of any key.
        upto: u64,
    },
    /// A change of this key after the cursor is no longer retained.
    Expired { oldest: u64 },
}

/// The outcome of reading the history from a resourceVersion.
pub enum Since {
    Changes(Vec<Arc<Change>>),
    /// The requested version is older than the oldest retained change.
    Expired {
        oldest: u64,
    },
}

/// What an update closure decided.
pub enum Updated {
    /// Nothing to change: the object keeps its resourceVersion and no event is sent.
    Unchanged(Obj),
    /// Written (the object carries its new resourceVersion).
    Written(Obj),
    /// Written and then removed because deletion was pending and nothing holds it any more.
    Removed(Obj),
}

pub struct Store {
    inner: Mutex<Inner>,
    latest: watch::Sender<u64>,
}

struct Inner {
    rv: u64,
    collections: HashMap<StorageKey, BTreeMap<(String, String), Obj>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// The resourceVersion before the oldest retained change; a cursor at or after it can resume.
    history_floor: u64,
    /// Per storage key, the resourceVersion of its newest change dropped from the history: a
    /// keyed cursor before it missed a change of its key.
    dropped: HashMap<StorageKey, u64>,
    /// Per storage key, the wake-up of readers of that key only (created on first subscribe).
    wake: HashMap<StorageKey, watch::Sender<u64>>,
    uids: HashMap<String, ObjectRef>,
    /// Owner uid → objects that name it in ownerReferences.
    dependents: HashMap<String, BTreeSet<ObjectRef>>,
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a write leaves an object that nothing holds any more: deletion requested, no
/// finalizers, and no graceful period still running (pods wait for their kubelet). Namespaces
/// are also held by `spec.finalizers` until the namespace controller has emptied them.
fn deletion_complete(key: &StorageKey, obj: &Value) -> bool {
    let meta = &obj["metadata"];
    let namespace_held = key.group.is_empty()
        && key.plural == "namespaces"
        && obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
    meta.get("deletionTimestamp").is_some_and(|t| !t.is_null())
        && meta["finalizers"].as_array().is_none_or(|f| f.is_empty())
        && meta["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
        && !namespace_held
}

/// Marked for deletion with no grace period running (what `ShouldDeleteDuringUpdate` asks of
/// the stored object).
fn deleting_without_grace(obj: &Value) -> bool {
    let meta = &obj["metadata"];
    meta.get("deletionTimestamp").is_some_and(|t| !t.is_null())
        && meta["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (latest, _) = watch::channel(1);
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                collections: HashMap::new(),
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                history_floor: 1,
                dropped: HashMap::new(),
                wake: HashMap::new(),
                uids: HashMap::new(),
                dependents: HashMap::new(),
            }),
            latest,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written map behind (every write is
        // a single insert/remove), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Wakes on every write.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Wakes on writes of `key` only (and when the store is dropped).
    pub fn subscribe_to(&self, key: &StorageKey) -> watch::Receiver<u64> {
        let mut inner = self.lock();
        let rv = inner.rv;
        inner
            .wake
            .entry(key.clone())
            .or_insert_with(|| watch::channel(rv).0)
            .subscribe()
    }

    pub fn get(&self, key: &StorageKey, namespace: &str, name: &str) -> Option<Obj> {
        self.lock()
            .collections
            .get(key)
            .and_then(|c| c.get(&(namespace.to_string(), name.to_string())))
            .cloned()
    }

    pub fn get_by_uid(&self, uid: &str) -> Option<(ObjectRef, Obj)> {
        let inner = self.lock();
        let at = inner.uids.get(uid)?.clone();
        let obj = inner
            .collections
            .get(&at.key)?
            .get(&(at.namespace.clone(), at.name.clone()))?
            .clone();
        Some((at, obj))
    }

    pub fn uid_exists(&self, uid: &str) -> bool {
        self.lock().uids.contains_key(uid)
    }

    /// Objects of one collection (in one namespace, or all), sorted by namespace and name as
    /// etcd keys are, with the resourceVersion the list is consistent at.
    pub fn list(&self, key: &StorageKey, namespace: Option<&str>) -> (Vec<Obj>, u64) {
        let inner = self.lock();
        let items = match inner.collections.get(key) {
            None => Vec::new(),
            Some(c) => match namespace {
                None => c.values().cloned().collect(),
                Some(ns) => c
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, o)| o.clone())
                    .collect(),
            },
        };
        (items, inner.rv)
    }

    /// Every object in a namespace, across collections (for namespace deletion).
    pub fn all_in_namespace(&self, namespace: &str) -> Vec<(StorageKey, Obj)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (key, c) in &inner.collections {
            for ((ns, _), obj) in c.range((namespace.to_string(), String::new())..) {
                if ns != namespace {
                    break;
                }
                out.push((key.clone(), obj.clone()));
            }
        }
        out
    }

    pub fn dependents_of(&self, owner_uid: &str) -> Vec<ObjectRef> {
        self.lock()
            .dependents
            .get(owner_uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores a new object, stamping its resourceVersion. Fails with the existing object when
    /// the name is taken.
    pub fn create(&self, key: &StorageKey, mut obj: Value) -> Result<Obj, Obj> {
        let mut inner = self.lock();
        let namespace = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let id = (namespace.clone(), name.clone());
        if let Some(existing) = inner.collections.get(key).and_then(|c| c.get(&id)) {
            return Err(existing.clone());
        }
        let rv = inner.rv + 1;
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let obj = Arc::new(obj);
        let at = ObjectRef {
            key: key.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
        };
        inner.index(&at, None, Some(&obj));
        inner
            .collections
            .entry(key.clone())
            .or_default()
            .insert(id, obj.clone());
        inner.commit(Change {
            rv,
            key: key.clone(),
            namespace,
            name,
            change_type: ChangeType::Added,
            object: obj.clone(),
            old: None,
            json: OnceLock::new(),
        });
        drop(inner);
        self.latest.send_replace(rv);
        Ok(obj)
    }

    /// Read-modify-write of one object under the store lock. The closure sees the current object
    /// and returns the new one (`None` = no change). Completes a pending deletion when the write
    /// leaves nothing holding the object. `Ok(None)` when the object does not exist.
    pub fn update<E>(
        &self,
        key: &StorageKey,
        namespace: &str,
        name: &str,
        decide: impl FnOnce(&Obj) -> Result<Option<Value>, E>,
    ) -> Result<Option<Updated>, E> {
        let mut inner = self.lock();
        let id = (namespace.to_string(), name.to_string());
        let Some(current) = inner.collections.get(key).and_then(|c| c.get(&id)).cloned() else {
            return Ok(None);
        };
        let Some(mut next) = decide(&current)? else {
            return Ok(Some(Updated::Unchanged(current)));
        };
        let rv = inner.rv + 1;
        next["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let next = Arc::new(next);
        let at = ObjectRef {
            key: key.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        if deletion_complete(key, &next) && deleting_without_grace(&current) {
            // k8s: ShouldDeleteDuringUpdate. The write that releases an object already marked
            // for deletion is not stored: the object is deleted as it was (watchers see only
            // DELETED) and the writer gets the object it sent.
            inner.remove(&at);
            drop(inner);
            self.latest.send_replace(rv);
            return Ok(Some(Updated::Removed(next)));
        }
        inner.index(&at, Some(&current), Some(&next));
        inner
            .collections
            .entry(key.clone())
            .or_default()
            .insert(id, next.clone());
        inner.commit(Change {
            rv,
            key: key.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            change_type: ChangeType::Modified,
            object: next.clone(),
            old: Some(current),
            json: OnceLock::new(),
        });
        let outcome = if deletion_complete(key, &next) {
            let removed = inner.remove(&at).unwrap_or(next);
            Updated::Removed(removed)
        } else {
            Updated::Written(next)
        };
        let rv = inner.rv;
        drop(inner);
        self.latest.send_replace(rv);
        Ok(Some(outcome))
    }

    /// Removes an object now (the last step of every deletion). Returns its final state.
    pub fn remove(&self, key: &StorageKey, namespace: &str, name: &str) -> Option<Obj> {
        let mut inner = self.lock();
        let removed = inner.remove(&ObjectRef {
            key: key.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
        let rv = inner.rv;
        drop(inner);
        self.latest.send_replace(rv);
        Some(removed)
    }

    /// The changes after `rv`, or `Expired` when they are no longer all retained.
    pub fn changes_since(&self, rv: u64) -> Since {
        let inner = self.lock();
        if rv < inner.history_floor {
            return Since::Expired {
                oldest: inner.history_floor + 1,
            };
        }
        let start = inner.history.partition_point(|c| c.rv <= rv);
        Since::Changes(inner.history.range(start..).cloned().collect())
    }

    /// The changes of `key` after `rv`, or `Expired` when one of them is no longer retained.
    /// Changes of other keys are skipped without copying them out.
    pub fn changes_of(&self, key: &StorageKey, rv: u64) -> KeySince {
        let inner = self.lock();
        if rv < inner.history_floor && inner.dropped.get(key).is_some_and(|d| *d > rv) {
            return KeySince::Expired {
                oldest: inner.history_floor + 1,
            };
        }
        let start = inner.history.partition_point(|c| c.rv <= rv);
        KeySince::Changes {
            changes: inner
                .history
                .range(start..)
                .filter(|c| c.key == *key)
                .cloned()
                .collect(),
            upto: rv.max(inner.rv),
        }
    }

    /// Whether reads at resourceVersion `rv` can still be answered (etcd: not compacted).
    pub fn retains(&self, rv: u64) -> bool {
        let inner = self.lock();
        rv >= inner.history_floor && rv <= inner.rv
    }

    /// A collection as it was at resourceVersion `rv` (what etcd serves for a read at a
    /// revision): the current objects with every later change undone. `None` when the changes
    /// since `rv` are no longer all retained (etcd: compacted) or `rv` is in the future.
    pub fn list_at(&self, key: &StorageKey, namespace: Option<&str>, rv: u64) -> Option<Vec<Obj>> {
        let inner = self.lock();
        if rv < inner.history_floor || rv > inner.rv {
            return None;
        }
        let mut items: BTreeMap<(String, String), Obj> = match inner.collections.get(key) {
            None => BTreeMap::new(),
            Some(c) => c
                .iter()
                .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                .map(|(id, o)| (id.clone(), o.clone()))
                .collect(),
        };
        let start = inner.history.partition_point(|c| c.rv <= rv);
        for change in inner.history.range(start..).rev() {
            if change.key != *key || namespace.is_some_and(|ns| ns != change.namespace) {
                continue;
            }
            let id = (change.namespace.clone(), change.name.clone());
            match (&change.change_type, &change.old) {
                (ChangeType::Added, _) => {
                    items.remove(&id);
                }
                (_, Some(old)) => {
                    items.insert(id, old.clone());
                }
                (_, None) => {}
            }
        }
        Some(items.into_values().collect())
    }

    /// Shrinks (or grows) the retained history, as etcd compaction would.
    pub fn set_history_limit(&self, limit: usize) {
        let mut inner = self.lock();
        inner.history_limit = limit.max(1);
        inner.trim();
    }
}

impl Inner {
    fn commit(&mut self, change: Change) {
        self.rv = change.rv;
        if let Some(wake) = self.wake.get(&change.key) {
            wake.send_replace(change.rv);
        }
        self.history.push_back(Arc::new(change));
        self.trim();
    }

    fn trim(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.history_floor = dropped.rv;
                match self.dropped.get_mut(&dropped.key) {
                    Some(rv) => *rv = dropped.rv,
                    None => {
                        self.dropped.insert(dropped.key.clone(), dropped.rv);
                    }
                }
            }
        }
    }

    fn remove(&mut self, at: &ObjectRef) -> Option<Obj> {
        let id = (at.namespace.clone(), at.name.clone());
        let old = self.collections.get_mut(&at.key)?.remove(&id)?;
        self.index(at, Some(&old), None);
        let rv = self.rv + 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let last = Arc::new(last);
        self.commit(Change {
            rv,
            key: at.key.clone(),
            namespace: at.namespace.clone(),
            name: at.name.clone(),
            change_type: ChangeType::Deleted,
            object: last.clone(),
            old: Some(old),
            json: OnceLock::new(),
        });
        Some(last)
    }

    /// Keeps the uid and owner indexes in step with a write.
    fn index(&mut self, at: &ObjectRef, old: Option<&Obj>, new: Option<&Obj>) {
        if let Some(old) = old {
            for owner in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(&owner) {
                    set.remove(at);
                    if set.is_empty() {
                        self.dependents.remove(&owner);
                    }
                }
            }
            if new.is_none() {
                self.uids.remove(meta_str(old, "uid"));
            }
        }
        if let Some(new) = new {
            for owner in owner_uids(new) {
                self.dependents.entry(owner).or_default().insert(at.clone());
            }
            let uid = meta_str(new, "uid");
            if !uid.is_empty() {
                self.uids.insert(uid.to_string(), at.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}})
    }

    #[test]
    fn versions_increase_and_history_expires() {
        let store = Store::new(2);
        let key = StorageKey::new("", "configmaps");
        let a = store.create(&key, cm("a")).unwrap();
        let b = store.create(&key, cm("b")).unwrap();
        assert_eq!(meta_str(&a, "resourceVersion"), "2");
        assert_eq!(meta_str(&b, "resourceVersion"), "3");
        store.create(&key, cm("c")).unwrap();
        assert!(matches!(store.changes_since(1), Since::Expired { .. }));
        match store.changes_since(2) {
            Since::Changes(c) => assert_eq!(c.len(), 2),
            Since::Expired { .. } => panic!("history should still hold rv 3 and 4"),
        }
        assert!(store.create(&key, cm("a")).is_err());
    }

    #[test]
    fn unchanged_update_keeps_version_and_pending_deletion_completes() {
        let store = Store::new(10);
        let key = StorageKey::new("", "configmaps");
        let mut obj = cm("a");
        obj["metadata"]["finalizers"] = json!(["x"]);
        store.create(&key, obj).unwrap();
        let out = store
            .update::<()>(&key, "default", "a", |_| Ok(None))
            .unwrap();
        assert!(
            matches!(out, Some(Updated::Unchanged(o)) if meta_str(&o, "resourceVersion") == "2")
        );
        let out = store
            .update::<()>(&key, "default", "a", |cur| {
                let mut next = (**cur).clone();
                next["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
                Ok(Some(next))
            })
            .unwrap();
        assert!(matches!(out, Some(Updated::Written(_))));
        let out = store
            .update::<()>(&key, "default", "a", |cur| {
                let mut next = (**cur).clone();
                next["metadata"]["finalizers"] = json!([]);
                Ok(Some(next))
            })
            .unwrap();
        assert!(matches!(out, Some(Updated::Removed(_))));
        assert!(store.get(&key, "default", "a").is_none());
        assert!(!store.uid_exists("uid-a"));
        // Releasing the last finalizer is not stored: one DELETED of the object as it was.
        match store.changes_since(3) {
            Since::Changes(c) => {
                assert_eq!(c.len(), 1);
                assert_eq!(c[0].change_type, ChangeType::Deleted);
                assert_eq!(c[0].object["metadata"]["finalizers"], json!(["x"]));
            }
            Since::Expired { .. } => panic!("history holds the deletion"),
        }
    }

    #[test]
    fn keyed_readers_wake_and_expire_for_their_key_only() {
        let store = Store::new(3);
        let pods = StorageKey::new("", "pods");
        let events = StorageKey::new("", "events");
        let woken = store.subscribe_to(&pods);
        store.create(&events, cm("e0")).unwrap();
        assert!(
            !woken.has_changed().unwrap(),
            "an Event write woke a Pod reader"
        );
        store.create(&pods, cm("p0")).unwrap();
        assert!(woken.has_changed().unwrap());
        // rv 2: e0, 3: p0. Three more Event writes drop both from the history.
        for i in 1..=3 {
            store.create(&events, cm(&format!("e{i}"))).unwrap();
        }
        // A Pod cursor after p0 missed nothing: only Events were dropped after it.
        match store.changes_of(&pods, 3) {
            KeySince::Changes { changes, upto } => {
                assert!(changes.is_empty());
                assert_eq!(upto, 6);
            }
            KeySince::Expired { .. } => panic!("no Pod change after rv 3 was dropped"),
        }
        // A Pod cursor before p0 missed it; an Event cursor before e0 missed e0.
        assert!(matches!(
            store.changes_of(&pods, 2),
            KeySince::Expired { oldest: 4 }
        ));
        assert!(matches!(
            store.changes_of(&events, 1),
            KeySince::Expired { oldest: 4 }
        ));
        assert!(matches!(
            store.changes_of(&events, 3),
            KeySince::Changes { .. }
        ));
        store.create(&pods, cm("p1")).unwrap();
        match store.changes_of(&pods, 6) {
            KeySince::Changes { changes, upto } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].name, "p1");
                assert_eq!(upto, 7);
            }
            KeySince::Expired { .. } => panic!("p1 is retained"),
        }
    }

    #[test]
    fn dependents_are_indexed() {
        let store = Store::new(10);
        let key = StorageKey::new("", "pods");
        let mut obj = cm("p");
        obj["metadata"]["ownerReferences"] = json!([{"uid": "owner-1"}]);
        store.create(&key, obj).unwrap();
        assert_eq!(store.dependents_of("owner-1").len(), 1);
        store.remove(&key, "default", "p");
        assert!(store.dependents_of("owner-1").is_empty());
    }
}
