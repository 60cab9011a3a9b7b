//! Recording the events the sandbox's own components report (scheduler, kubelet): a repeated
//! occurrence is counted into the event already stored, as the client-go recorders do, rather
//! than stored again. Like their caches (the legacy correlator's LRU of 4096 entries, the
//! events.k8s.io broadcaster's series cache) the memory of earlier occurrences is bounded.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::Value;

use super::{WriteOptions, create};
use crate::events;
use crate::state::State;
use crate::store::{StorageKey, meta_str};

/// How many occurrences are remembered before the memory starts afresh.
const CACHE_ENTRIES: usize = 4096;

/// Earlier occurrences: their key (`events::occurrence_key`) → the stored event's name.
#[derive(Default)]
pub struct RecordedEvents(Mutex<HashMap<String, String>>);

/// Stores `event` (core form) or counts it into an earlier occurrence. Failures (the namespace
/// is terminating, say) are dropped, as a recorder drops what the API refuses.
pub fn record_event(state: &State, event: Value) {
    let key = StorageKey::new("", "events");
    let namespace = meta_str(&event, "namespace").to_string();
    let occurrence = events::occurrence_key(&event);
    let earlier = state
        .recorded_events
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&occurrence)
        .cloned();
    if let Some(name) = earlier {
        let now = Utc::now();
        let counted = state.store.update::<()>(&key, &namespace, &name, |cur| {
            let mut next = (**cur).clone();
            events::count_again(&mut next, now);
            Ok(Some(next))
        });
        if matches!(counted, Ok(Some(_))) {
            return;
        }
    }
    let name = meta_str(&event, "name").to_string();
    let Some(rt) = state.types.find("", "v1", "events") else {
        return;
    };
    match create(
        state,
        &rt,
        Some(&namespace),
        event,
        &WriteOptions::default(),
    ) {
        Ok(_) => {
            let mut cache = state
                .recorded_events
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(occurrence, name);
        }
        Err(e) => tracing::debug!(error = %e.status["message"], "event not recorded"),
    }
}
