//! Lean decoding for the controller's watches: each event's object is decoded straight into
//! what the cache keeps (see [`super::trim`]) instead of into the whole object first.
//!
//! Decoding is most of what the operator spends per job (the profile in BENCHMARKS.md: watch
//! events are trees of short-lived allocations). Every object carries `managedFields`, a tree of
//! field sets per writer that nothing here reads, and a runner Pod carries its whole spec
//! (containers, environment, volumes, security context), of which the cache keeps three fields.
//! serde skips a field it is not asked for without building it, so a watch over [`Lean`] objects
//! scans those parts of each event but allocates nothing for them.
//!
//! [`Lean<K>`] is `K` with the [`Resource`] identity of `K`, for `Api`, `watcher` and lists;
//! `Lean::into_inner` gives the plain object the caches hold. It is encoded as the whole `K`,
//! so a write through `Api<Lean<K>>` sends the object as is and decodes only the answer lean:
//! the controller does so where it reads nothing but metadata and status of the answer (a Pod
//! created, a status written). A fresh GET of a Pod stays whole.

use std::{borrow::Cow, collections::BTreeMap};

use k8s_openapi::{
    api::core::v1::{Pod, PodSpec, PodStatus},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
};
use kube::{Resource, runtime::watcher};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::trim::{trim_job, trim_pod};
use crate::crd::{TestJob, TestJobSpec, TestJobStatus};

/// An object decoded as its cache keeps it (see the module docs).
#[derive(Clone, Debug)]
pub struct Lean<K>(K);

impl<K> Lean<K> {
    /// `object`, to be written through an `Api<Lean<K>>`.
    pub fn new(object: K) -> Self {
        Lean(object)
    }

    /// The object as decoded.
    pub fn into_inner(self) -> K {
        self.0
    }
}

impl<K: Serialize> Serialize for Lean<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A watch event of lean objects as an event of plain ones.
pub fn unwrap_event<K>(event: watcher::Event<Lean<K>>) -> watcher::Event<K> {
    match event {
        watcher::Event::Apply(o) => watcher::Event::Apply(o.0),
        watcher::Event::Delete(o) => watcher::Event::Delete(o.0),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(o) => watcher::Event::InitApply(o.0),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Lean<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

/// `ObjectMeta` without `managedFields`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl From<Meta> for ObjectMeta {
    fn from(m: Meta) -> Self {
        ObjectMeta {
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            deletion_timestamp: m.deletion_timestamp,
            finalizers: m.finalizers,
            generate_name: m.generate_name,
            generation: m.generation,
            labels: m.labels,
            managed_fields: None,
            name: m.name,
            namespace: m.namespace,
            owner_references: m.owner_references,
            resource_version: m.resource_version,
            self_link: m.self_link,
            uid: m.uid,
        }
    }
}

/// A TestJob as the watch sends it; `apiVersion` and `kind` are implied by the watch.
#[derive(Deserialize)]
struct WireJob {
    metadata: Meta,
    spec: TestJobSpec,
    status: Option<Box<TestJobStatus>>,
}

impl<'de> Deserialize<'de> for Lean<TestJob> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireJob::deserialize(d)?;
        let mut job = TestJob {
            metadata: wire.metadata.into(),
            spec: wire.spec,
            status: wire.status,
        };
        trim_job(&mut job);
        Ok(Lean(job))
    }
}

/// The part of a Pod's spec the Pod cache keeps (see [`trim_pod`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePodSpec {
    active_deadline_seconds: Option<i64>,
    termination_grace_period_seconds: Option<i64>,
    node_name: Option<String>,
}

#[derive(Deserialize)]
struct WirePod {
    metadata: Meta,
    spec: Option<WirePodSpec>,
    status: Option<PodStatus>,
}

impl<'de> Deserialize<'de> for Lean<Pod> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WirePod::deserialize(d)?;
        let mut pod = Pod {
            metadata: wire.metadata.into(),
            spec: wire.spec.map(|s| PodSpec {
                active_deadline_seconds: s.active_deadline_seconds,
                termination_grace_period_seconds: s.termination_grace_period_seconds,
                node_name: s.node_name,
                ..PodSpec::default()
            }),
            status: wire.status,
        };
        trim_pod(&mut pod);
        Ok(Lean(pod))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn managed_fields() -> Value {
        json!([
            {"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
             "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}},
        ])
    }

    fn full_metadata() -> Value {
        json!({
            "name": "smoke-1", "namespace": "ns", "uid": "u-1", "resourceVersion": "7",
            "generation": 2, "generateName": "smoke-", "selfLink": "/x",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "deletionTimestamp": "2026-01-01T00:01:00Z", "deletionGracePeriodSeconds": 30,
            "finalizers": ["a/b"], "labels": {"team": "a"}, "annotations": {"note": "x"},
            "ownerReferences": [{"apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
                "name": "smoke", "uid": "u-0", "controller": true}],
            "managedFields": managed_fields(),
        })
    }

    #[test]
    fn a_lean_pod_is_the_trimmed_pod() {
        let json = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": full_metadata(),
            "spec": {
                "activeDeadlineSeconds": 30, "terminationGracePeriodSeconds": 5, "nodeName": "n1",
                "restartPolicy": "Never",
                "containers": [{"name": "runner", "image": "busybox",
                    "env": [{"name": "A", "value": "b"}],
                    "securityContext": {"runAsNonRoot": true}}],
            },
            "status": {
                "phase": "Failed", "startTime": "2026-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "runner", "image": "busybox", "imageID": "",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "m"}}}],
            },
        });
        let mut expected: Pod = serde_json::from_value(json.clone()).expect("a pod");
        trim_pod(&mut expected);
        let lean: Lean<Pod> = serde_json::from_value(json).expect("a lean pod");
        assert_eq!(lean.into_inner(), expected);
    }

    #[test]
    fn a_lean_job_is_the_trimmed_job() {
        for phase in ["Running", "Succeeded"] {
            let json = json!({
                "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
                "metadata": full_metadata(),
                "spec": {"testId": 220, "ttlSecondsAfterFinished": 60,
                    "runner": {"image": "busybox", "command": ["sh", "-c", "true"]}},
                "status": {"phase": phase, "attempt": 1, "podName": "smoke-1",
                    "results": [{"name": "a", "status": "passed"}], "message": "done"},
            });
            let mut expected: TestJob = serde_json::from_value(json.clone()).expect("a job");
            trim_job(&mut expected);
            let lean: Lean<TestJob> = serde_json::from_value(json).expect("a lean job");
            assert_eq!(lean.into_inner(), expected, "{phase}");
        }
    }

    #[test]
    fn a_watch_event_decodes_into_lean_objects() {
        let line = json!({"type": "MODIFIED", "object": {
            "apiVersion": "v1", "kind": "Pod", "metadata": full_metadata(),
            "status": {"phase": "Running"},
        }});
        let event: kube::core::WatchEvent<Lean<Pod>> =
            serde_json::from_value(line).expect("an event");
        let kube::core::WatchEvent::Modified(pod) = event else {
            panic!("a MODIFIED event");
        };
        let pod = pod.into_inner();
        assert_eq!(pod.metadata.managed_fields, None);
        assert_eq!(pod.metadata.name.as_deref(), Some("smoke-1"));
        assert_eq!(pod.status.and_then(|s| s.phase).as_deref(), Some("Running"));
        assert_eq!(<Lean<Pod> as Resource>::plural(&()), "pods");
        assert_eq!(
            <Lean<TestJob> as Resource>::api_version(&()),
            "testjob.dev/v1alpha1"
        );
    }
}
