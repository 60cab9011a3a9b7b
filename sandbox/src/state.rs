//! The shared state of one running sandbox: the store, the served types and the node.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::kubelet::Kubelet;
use crate::resource_types::{ResourceType, builtin_types};
use crate::schema::CompiledSchema;
use crate::store::Store;

/// The resource types this sandbox serves now (the built-in ones and those of established
/// CustomResourceDefinitions), with the prepared schema of each custom one.
pub struct ServedTypes {
    inner: RwLock<ServedTypesInner>,
}

struct ServedTypesInner {
    types: Vec<Arc<ResourceType>>,
    schemas: HashMap<(String, String), Arc<CompiledSchema>>,
}

impl Default for ServedTypes {
    fn default() -> Self {
        ServedTypes {
            inner: RwLock::new(ServedTypesInner {
                types: builtin_types().into_iter().map(Arc::new).collect(),
                schemas: HashMap::new(),
            }),
        }
    }
}

impl ServedTypes {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, ServedTypesInner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ServedTypesInner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// All served types, for discovery and OpenAPI.
    pub fn types(&self) -> Vec<ResourceType> {
        self.read().types.iter().map(|t| (**t).clone()).collect()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.read()
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type of a group + plural, whatever its version (one per resource here).
    pub fn find_resource(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.read()
            .types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .cloned()
    }

    pub fn schema(&self, group: &str, plural: &str) -> Option<Arc<CompiledSchema>> {
        self.read()
            .schemas
            .get(&(group.to_string(), plural.to_string()))
            .cloned()
    }

    /// Serves (or re-serves) a custom type.
    pub fn register(&self, rt: ResourceType, schema: Option<CompiledSchema>) {
        let mut inner = self.write();
        let id = (rt.group.clone(), rt.plural.clone());
        inner
            .types
            .retain(|t| !(t.group == rt.group && t.plural == rt.plural));
        inner.types.push(Arc::new(rt));
        match schema {
            Some(s) => inner.schemas.insert(id, Arc::new(s)),
            None => inner.schemas.remove(&id),
        };
    }

    pub fn unregister(&self, group: &str, plural: &str) {
        let mut inner = self.write();
        inner
            .types
            .retain(|t| !(t.group == group && t.plural == plural && t.is_custom()));
        inner
            .schemas
            .remove(&(group.to_string(), plural.to_string()));
    }
}

/// Everything a request handler or an internal controller needs.
pub struct State {
    pub store: Store,
    pub types: ServedTypes,
    pub kubelet: OnceLock<Kubelet>,
    pub admin_token: String,
    pub node_name: String,
    pub lists: crate::list::Snapshots,
    /// Signs and checks ServiceAccount tokens.
    pub auth_keys: crate::tokens::TokenKeys,
    pub faults: crate::faults::Faults,
    pub stats: crate::stats::Stats,
    /// The sandbox's own event recorders' memory of what they reported (see `ops::record_event`).
    pub recorded_events: crate::ops::RecordedEvents,
    /// The cluster CA (PEM), published in every namespace's `kube-root-ca.crt`.
    pub ca_pem: OnceLock<String>,
}

impl State {
    pub fn new(history_limit: usize, admin_token: String) -> Self {
        State {
            store: Store::new(history_limit),
            types: ServedTypes::default(),
            kubelet: OnceLock::new(),
            admin_token,
            node_name: "sandbox".into(),
            lists: Default::default(),
            auth_keys: Default::default(),
            faults: Default::default(),
            stats: Default::default(),
            recorded_events: Default::default(),
            ca_pem: OnceLock::new(),
        }
    }
}
