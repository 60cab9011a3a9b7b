//! Recording the events the sandbox's own components report (scheduler, kubelet): a repeated
//! occurrence is counted into the event already stored, as the client-go recorders do, rather
//! than stored again.

use chrono::Utc;
use serde_json::Value;

use super::{WriteOptions, create};
use crate::events;
use crate::state::State;
use crate::store::{StorageKey, meta_str};

/// Stores `event` (core form) or counts it into an earlier occurrence. Failures (the namespace
/// is terminating, say) are dropped, as a recorder drops what the API refuses.
pub fn record_event(state: &State, event: Value) {
    let key = StorageKey::new("", "events");
    let namespace = meta_str(&event, "namespace").to_string();
    let (existing, _) = state.store.list(&key, Some(&namespace));
    if let Some(earlier) = existing
        .iter()
        .rev()
        .find(|e| events::same_occurrence(e, &event))
    {
        let now = Utc::now();
        let _ = state
            .store
            .update::<()>(&key, &namespace, meta_str(earlier, "name"), |cur| {
                let mut next = (**cur).clone();
                events::count_again(&mut next, now);
                Ok(Some(next))
            });
        return;
    }
    if let Some(rt) = state.types.find("", "v1", "events")
        && let Err(e) = create(
            state,
            &rt,
            Some(&namespace),
            event,
            &WriteOptions::default(),
        )
    {
        tracing::debug!(error = %e.status["message"], "event not recorded");
    }
}
