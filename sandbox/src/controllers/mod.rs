//! The control loops a real cluster runs beside kube-apiserver, reduced to what clients observe:
//! the garbage collector (background, foreground and orphan deletion), the namespace controller
//! (deleting a namespace's contents), CRD cleanup, feeding pod changes to the kubelet, the
//! workload controllers ([`deployment`], [`replicaset`], [`job`]) and the root CA publisher
//! ([`rootca`]).
//!
//! They read the store's change history from their own cursor, like a watch, so they never
//! hold the store lock while working; when the history expires under them they resync. The
//! workload controllers' syncs are collected per batch of changes and run once per object.

mod deployment;
mod job;
mod replicaset;
mod rootca;
mod workload;

use std::collections::BTreeSet;

use std::sync::{Arc, Weak};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::admission::CRD_CLEANUP_FINALIZER;
use crate::kubelet::{PodEvent, PodStore};
use crate::ops::{self, DeleteOptions};
use crate::resource_types::type_from_crd;
use crate::state::State;
use crate::store::{Change, ChangeType, Since, StorageKey, meta_str};

fn pods_key() -> StorageKey {
    StorageKey::new("", "pods")
}

fn namespaces_key() -> StorageKey {
    StorageKey::new("", "namespaces")
}

fn crds_key() -> StorageKey {
    StorageKey::new("apiextensions.k8s.io", "customresourcedefinitions")
}

fn finalizers(obj: &Value) -> Vec<&str> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn deleting(obj: &Value) -> bool {
    !obj["metadata"]["deletionTimestamp"].is_null()
}

/// Runs until `shutdown` turns true.
pub async fn run(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let mut changed = state.store.subscribe();
    let mut cursor = 0;
    // Syncs asked for later (a pod that becomes available after `minReadySeconds`).
    let mut later: Vec<(tokio::time::Instant, Sync)> = Vec::new();
    loop {
        let mut work = BTreeSet::new();
        let now = tokio::time::Instant::now();
        later.retain(|(at, item)| {
            let due = *at <= now;
            if due {
                work.insert(item.clone());
            }
            !due
        });
        match state.store.changes_since(cursor) {
            Since::Changes(changes) => {
                for change in changes {
                    cursor = change.rv;
                    handle(&state, &change);
                    queue_syncs(&change, &mut work);
                }
            }
            Since::Expired { .. } => {
                cursor = state.store.current_rv();
                resync(&state);
                resync_workloads(&state, &mut work);
            }
        }
        for item in work {
            if let Some(after) = sync(&state, &item) {
                later.push((tokio::time::Instant::now() + after, item));
            }
        }
        let next = later.iter().map(|(at, _)| *at).min();
        let timer = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            res = changed.changed() => if res.is_err() { return },
            _ = shutdown.changed() => return,
            _ = timer => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

fn handle(state: &State, change: &Change) {
    let obj = &change.object;
    if change.key == pods_key()
        && let Some(kubelet) = state.kubelet.get()
    {
        kubelet.observe(match change.change_type {
            ChangeType::Deleted => PodEvent::Deleted(obj.clone()),
            _ => PodEvent::Applied(obj.clone()),
        });
    }
    match change.change_type {
        ChangeType::Deleted => {
            collect_dependents(state, meta_str(obj, "uid"));
            for owner in owner_uids(obj) {
                finish_foreground(state, &owner);
            }
            if !change.namespace.is_empty() {
                finish_namespace(state, &change.namespace);
            }
            if !change.key.group.is_empty() {
                finish_crd(
                    state,
                    &format!("{}.{}", change.key.plural, change.key.group),
                );
            }
        }
        ChangeType::Added | ChangeType::Modified => {
            if deleting(obj) {
                on_deleting(state, &change.key, obj);
            }
        }
    }
}

/// An object a workload controller is to sync.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Sync {
    // Declared in the order they run: pods come from ReplicaSets and Jobs, ReplicaSets from
    // Deployments, so a Deployment sees its ReplicaSets' fresh status.
    ReplicaSet(String, String),
    Job(String, String),
    Deployment(String, String),
    RootCa(String),
}

/// What a change asks the workload controllers to look at: the object itself and the
/// controller owning it.
fn queue_syncs(change: &Change, work: &mut BTreeSet<Sync>) {
    let ns = change.namespace.clone();
    let name = change.name.clone();
    let key = &change.key;
    if *key == replicaset::key() {
        work.insert(Sync::ReplicaSet(ns.clone(), name.clone()));
    } else if *key == deployment::key() {
        work.insert(Sync::Deployment(ns.clone(), name.clone()));
    } else if *key == job::key() {
        work.insert(Sync::Job(ns.clone(), name.clone()));
    } else if *key == namespaces_key() && change.change_type != ChangeType::Deleted {
        work.insert(Sync::RootCa(name.clone()));
    } else if *key == rootca::configmaps_key() && name == rootca::NAME {
        work.insert(Sync::RootCa(ns.clone()));
    }
    let objects = [Some(&change.object), change.old.as_ref()];
    for obj in objects.into_iter().flatten() {
        if let Some((kind, owner, _)) = workload::controller_ref(obj) {
            let owner = owner.to_string();
            match (key.group.as_str(), key.plural.as_str(), kind) {
                ("", "pods", "ReplicaSet") => {
                    work.insert(Sync::ReplicaSet(ns.clone(), owner));
                }
                ("", "pods", "Job") => {
                    work.insert(Sync::Job(ns.clone(), owner));
                }
                ("apps", "replicasets", "Deployment") => {
                    work.insert(Sync::Deployment(ns.clone(), owner));
                }
                _ => {}
            }
        }
    }
}

/// Runs one sync; `Some(after)` asks for another one that much later.
fn sync(state: &State, item: &Sync) -> Option<std::time::Duration> {
    match item {
        Sync::ReplicaSet(ns, name) => return replicaset::sync(state, ns, name),
        Sync::Job(ns, name) => job::sync(state, ns, name),
        Sync::Deployment(ns, name) => deployment::sync(state, ns, name),
        Sync::RootCa(ns) => rootca::sync(state, ns),
    }
    None
}

/// After the history expired: every workload object is synced again.
fn resync_workloads(state: &State, work: &mut BTreeSet<Sync>) {
    let all = |key: StorageKey| state.store.list(&key, None).0;
    for rs in all(replicaset::key()) {
        work.insert(Sync::ReplicaSet(
            meta_str(&rs, "namespace").into(),
            meta_str(&rs, "name").into(),
        ));
    }
    for j in all(job::key()) {
        work.insert(Sync::Job(
            meta_str(&j, "namespace").into(),
            meta_str(&j, "name").into(),
        ));
    }
    for d in all(deployment::key()) {
        work.insert(Sync::Deployment(
            meta_str(&d, "namespace").into(),
            meta_str(&d, "name").into(),
        ));
    }
    for ns in all(namespaces_key()) {
        work.insert(Sync::RootCa(meta_str(&ns, "name").into()));
    }
}

/// After the history expired: act on every object as if it had just changed.
fn resync(state: &State) {
    if let Some(kubelet) = state.kubelet.get() {
        for pod in state.store.list(&pods_key(), None).0 {
            kubelet.observe(PodEvent::Applied(pod));
        }
    }
    for rt in state.types.types() {
        let key = StorageKey::of(&rt);
        for obj in state.store.list(&key, None).0 {
            if deleting(&obj) {
                on_deleting(state, &key, &obj);
            }
        }
    }
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|o| o["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn delete_ref(state: &State, key: &StorageKey, namespace: &str, name: &str) {
    if let Some(rt) = ops::type_of(state, key) {
        let _ = ops::delete(state, &rt, namespace, name, &DeleteOptions::default());
    }
}

/// Background deletion: dependents none of whose owners exist any more are deleted.
fn collect_dependents(state: &State, owner_uid: &str) {
    if owner_uid.is_empty() {
        return;
    }
    for dep in state.store.dependents_of(owner_uid) {
        let Some(obj) = state.store.get(&dep.key, &dep.namespace, &dep.name) else {
            continue;
        };
        if owner_uids(&obj).iter().all(|u| !state.store.uid_exists(u)) {
            delete_ref(state, &dep.key, &dep.namespace, &dep.name);
        }
    }
}

/// A foreground-deleting owner loses its finalizer once its dependents are gone.
fn finish_foreground(state: &State, owner_uid: &str) {
    let Some((at, owner)) = state.store.get_by_uid(owner_uid) else {
        return;
    };
    if deleting(&owner)
        && finalizers(&owner).contains(&"foregroundDeletion")
        && state.store.dependents_of(owner_uid).is_empty()
        && let Some(rt) = ops::type_of(state, &at.key)
    {
        ops::remove_finalizer(state, &rt, &at.namespace, &at.name, "foregroundDeletion");
    }
}

fn on_deleting(state: &State, key: &StorageKey, obj: &Value) {
    let uid = meta_str(obj, "uid").to_string();
    let namespace = meta_str(obj, "namespace").to_string();
    let name = meta_str(obj, "name").to_string();
    let held_by = finalizers(obj);
    if held_by.contains(&"foregroundDeletion") {
        let dependents = state.store.dependents_of(&uid);
        for dep in &dependents {
            delete_ref(state, &dep.key, &dep.namespace, &dep.name);
        }
        finish_foreground(state, &uid);
    }
    if held_by.contains(&"orphan") {
        for dep in state.store.dependents_of(&uid) {
            let _ = state
                .store
                .update::<()>(&dep.key, &dep.namespace, &dep.name, |cur| {
                    let mut next = (**cur).clone();
                    if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid.as_str());
                        // The garbage collector's orphan patch deletes the last reference, and
                        // with it the field (`ownerReferences` is omitempty).
                        if refs.is_empty()
                            && let Some(meta) = next["metadata"].as_object_mut()
                        {
                            meta.remove("ownerReferences");
                        }
                    }
                    Ok(Some(next))
                });
        }
        if let Some(rt) = ops::type_of(state, key) {
            ops::remove_finalizer(state, &rt, &namespace, &name, "orphan");
        }
    }
    if *key == namespaces_key() {
        for (k, o) in state.store.all_in_namespace(&name) {
            if !deleting(&o) {
                delete_ref(state, &k, &name, meta_str(&o, "name"));
            }
        }
        finish_namespace(state, &name);
    }
    if *key == crds_key() && held_by.contains(&CRD_CLEANUP_FINALIZER) {
        // The CRD finalizer controller deletes every custom resource the normal way (their own
        // finalizers are honoured) and lets the CRD go once none is left.
        if let Ok(served) = type_from_crd(obj)
            && let Some(rt) = state.types.find_resource(&served.group, &served.plural)
        {
            let cr_key = StorageKey::of(&rt);
            for cr in state.store.list(&cr_key, None).0 {
                if !deleting(&cr) {
                    let _ = ops::delete(
                        state,
                        &rt,
                        meta_str(&cr, "namespace"),
                        meta_str(&cr, "name"),
                        &DeleteOptions::default(),
                    );
                }
            }
        }
        finish_crd(state, &name);
    }
}

/// A terminating CRD stops being served, and goes, once its last custom resource is gone.
fn finish_crd(state: &State, crd_name: &str) {
    let Some(crd) = state.store.get(&crds_key(), "", crd_name) else {
        return;
    };
    if !deleting(&crd) || !finalizers(&crd).contains(&CRD_CLEANUP_FINALIZER) {
        return;
    }
    if let Ok(served) = type_from_crd(&crd) {
        let cr_key = StorageKey::new(&served.group, &served.plural);
        if !state.store.list(&cr_key, None).0.is_empty() {
            return;
        }
        state.types.unregister(&served.group, &served.plural);
    }
    if let Some(rt) = ops::type_of(state, &crds_key()) {
        ops::remove_finalizer(state, &rt, "", crd_name, CRD_CLEANUP_FINALIZER);
    }
}

/// A terminating namespace goes away once it is empty.
fn finish_namespace(state: &State, namespace: &str) {
    let key = namespaces_key();
    let Some(ns) = state.store.get(&key, "", namespace) else {
        return;
    };
    if deleting(&ns) && state.store.all_in_namespace(namespace).is_empty() {
        let _ = state.store.update::<()>(&key, "", namespace, |cur| {
            let mut next = (**cur).clone();
            next["spec"]["finalizers"] = json!([]);
            Ok(Some(next))
        });
        if finalizers(&ns).is_empty() {
            state.store.remove(&key, "", namespace);
        }
    }
}

/// The store as the kubelet sees it. Weak, so the kubelet's tasks never keep a stopped sandbox alive.
pub struct NodeStore(pub Weak<State>);

impl PodStore for NodeStore {
    fn update_pod(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        mutate: &mut dyn FnMut(&mut Value),
    ) -> bool {
        let Some(state) = self.0.upgrade() else {
            return false;
        };
        let outcome = state.store.update(&pods_key(), namespace, name, |cur| {
            if meta_str(cur, "uid") != uid {
                return Err(());
            }
            let mut next = (**cur).clone();
            mutate(&mut next);
            Ok((next != **cur).then_some(next))
        });
        matches!(outcome, Ok(Some(_)))
    }

    fn get_object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.0.upgrade()?;
        let obj = state
            .store
            .get(&StorageKey::new("", resource), namespace, name)?;
        Some((*obj).clone())
    }

    fn record_event(&self, event: Value) {
        if let Some(state) = self.0.upgrade() {
            ops::record_event(&state, event);
        }
    }

    fn finish_pod_deletion(&self, namespace: &str, name: &str, uid: &str) {
        let Some(state) = self.0.upgrade() else {
            return;
        };
        let _ = state.store.update(&pods_key(), namespace, name, |cur| {
            if meta_str(cur, "uid") != uid {
                return Err(());
            }
            let mut next = (**cur).clone();
            next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            Ok(Some(next))
        });
    }
}
