//! The root-ca-cert-publisher controller (`pkg/controller/certificates/rootcacertpublisher`):
//! every active namespace has a `kube-root-ca.crt` ConfigMap holding the cluster's CA, put back
//! when it is deleted or changed.

use serde_json::{Value, json};

use crate::ops::{self, WriteOptions};
use crate::state::State;
use crate::store::StorageKey;

pub const NAME: &str = "kube-root-ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub fn configmaps_key() -> StorageKey {
    StorageKey::new("", "configmaps")
}

fn wanted(namespace: &str, ca: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "annotations": {"kubernetes.io/description": DESCRIPTION},
        },
        "data": {"ca.crt": ca},
    })
}

pub fn sync(state: &State, namespace: &str) {
    let Some(ca) = state.ca_pem.get() else {
        return;
    };
    let active = state
        .store
        .get(&StorageKey::new("", "namespaces"), "", namespace)
        .is_some_and(|ns| ns["metadata"]["deletionTimestamp"].is_null());
    let Some(rt) = state.types.find("", "v1", "configmaps") else {
        return;
    };
    if !active {
        return;
    }
    let opts = WriteOptions::default();
    match state.store.get(&configmaps_key(), namespace, NAME) {
        None => {
            let _ = ops::create(state, &rt, Some(namespace), wanted(namespace, ca), &opts);
        }
        Some(cm) if cm["data"] != json!({"ca.crt": ca}) || !cm["binaryData"].is_null() => {
            let mut next = (*cm).clone();
            next["data"] = json!({"ca.crt": ca});
            if let Some(map) = next.as_object_mut() {
                map.remove("binaryData");
            }
            let _ = ops::update(state, &rt, namespace, NAME, None, next, &opts);
        }
        Some(_) => {}
    }
}
