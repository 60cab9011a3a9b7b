//! What a finished job leaves stored in the cluster: its TestJob, the Events about it and the
//! ConfigMaps it owns (reports, kept logs), in bytes of their JSON as the API serves them.
//!
//! The sandbox does not count stored bytes yet, so [`stored_bytes`] reads the objects back
//! through the API and measures their JSON, which is how the sandbox stores them (one JSON
//! document per object). It is the one place to switch to the sandbox's own figure once
//! `StatsSnapshot` reports stored bytes per resource type.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use testjob_operator::crd::TestJob;

/// Bytes stored for the objects of one namespace, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// Finished TestJobs counted.
    pub jobs: usize,
    /// Their JSON.
    pub testjob_bytes: u64,
    /// The JSON of the Events about them.
    pub event_bytes: u64,
    /// The JSON of the ConfigMaps they own.
    pub configmap_bytes: u64,
}

impl Stored {
    /// All bytes per job; 0 without jobs.
    pub fn per_job(&self) -> f64 {
        if self.jobs == 0 {
            return 0.0;
        }
        (self.testjob_bytes + self.event_bytes + self.configmap_bytes) as f64 / self.jobs as f64
    }
}

/// Every object of `api`, page by page.
async fn list_all<K>(api: &Api<K>) -> anyhow::Result<Vec<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut all = Vec::new();
    let mut params = ListParams::default().limit(2000);
    loop {
        let page = api.list(&params).await?;
        all.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(all),
        }
    }
}

fn json_bytes<K: Serialize>(objects: &[K]) -> anyhow::Result<u64> {
    let mut total = 0;
    for object in objects {
        total += serde_json::to_vec(object)?.len() as u64;
    }
    Ok(total)
}

/// What the finished TestJobs of `namespace` and what belongs to them store.
pub async fn stored_bytes(client: &kube::Client, namespace: &str) -> anyhow::Result<Stored> {
    let jobs: Vec<TestJob> = list_all(&Api::namespaced(client.clone(), namespace)).await?;
    let finished: Vec<&TestJob> = jobs
        .iter()
        .filter(|j| {
            j.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|p| p.is_terminal())
        })
        .collect();
    let names: std::collections::HashSet<&str> = finished
        .iter()
        .filter_map(|j| j.metadata.name.as_deref())
        .collect();
    let events: Vec<Event> = list_all(&Api::namespaced(client.clone(), namespace)).await?;
    let events: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("TestJob")
                    && r.name.as_deref().is_some_and(|n| names.contains(n))
            })
        })
        .collect();
    let configmaps: Vec<ConfigMap> = list_all(&Api::namespaced(client.clone(), namespace)).await?;
    let owned: Vec<&ConfigMap> = configmaps
        .iter()
        .filter(|c| {
            c.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "TestJob")
        })
        .collect();
    Ok(Stored {
        jobs: finished.len(),
        testjob_bytes: json_bytes(&finished)?,
        event_bytes: json_bytes(&events)?,
        configmap_bytes: json_bytes(&owned)?,
    })
}
