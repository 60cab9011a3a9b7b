//! What `/readyz` reports: whether the controller's caches are synced and where this replica
//! stands in leader election. Updated by the controller and the elector, read by the HTTP
//! endpoints.

use std::sync::{Mutex, PoisonError};

/// Where this replica stands in leader election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Election {
    /// Leader election is off: the replica always leads.
    Disabled,
    /// The Lease has not been looked at yet.
    Starting,
    /// Another replica leads; this one is ready to take over.
    Standby,
    /// Another replica leads (or none), and this one cannot reach the Lease.
    StandbyUnhealthy,
    /// This replica holds the Lease.
    Leader,
    /// This replica gave the Lease up while shutting down.
    Released,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HealthState {
    election: Election,
    synced: bool,
    stopping: bool,
}

/// What `/readyz` reports, updated by the controller and the elector.
#[derive(Debug)]
pub struct Health {
    state: Mutex<HealthState>,
}

impl Health {
    /// Not ready: caches not synced, and with `leader_election` the Lease not looked at yet.
    pub fn new(leader_election: bool) -> Self {
        Health {
            state: Mutex::new(HealthState {
                election: if leader_election {
                    Election::Starting
                } else {
                    Election::Disabled
                },
                synced: false,
                stopping: false,
            }),
        }
    }

    fn update(&self, change: impl FnOnce(&mut HealthState)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Records where this replica stands in leader election.
    pub fn set_election(&self, election: Election) {
        self.update(|s| s.election = election);
    }

    /// Records whether the controller's TestJob cache holds a complete list.
    pub fn set_synced(&self, synced: bool) {
        self.update(|s| s.synced = synced);
    }

    /// Records that the process is shutting down: it is no longer ready.
    pub fn set_stopping(&self) {
        self.update(|s| s.stopping = true);
    }

    /// `Ok` with a description when ready, `Err` with the reason otherwise.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        let state = *self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.stopping {
            return Err("shutting down");
        }
        match (state.election, state.synced) {
            (Election::Disabled, true) => Ok("caches synced"),
            (Election::Leader, true) => Ok("leader, caches synced"),
            (Election::Disabled | Election::Leader, false) => Err("caches not synced yet"),
            (Election::Standby, _) => Ok("standing by"),
            (Election::Starting, _) => Err("leader election has not started yet"),
            (Election::StandbyUnhealthy, _) => Err("standing by, but the Lease is unreachable"),
            (Election::Released, _) => Err("shutting down"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_cache_sync_and_election() {
        let health = Health::new(false);
        assert_eq!(health.readiness(), Err("caches not synced yet"));
        health.set_synced(true);
        assert_eq!(health.readiness(), Ok("caches synced"));
        health.set_stopping();
        assert_eq!(health.readiness(), Err("shutting down"));

        let health = Health::new(true);
        assert!(health.readiness().is_err());
        health.set_election(Election::StandbyUnhealthy);
        assert!(health.readiness().is_err());
        // A healthy standby is ready without caches: it has none until it leads.
        health.set_election(Election::Standby);
        assert_eq!(health.readiness(), Ok("standing by"));
        health.set_election(Election::Leader);
        assert_eq!(health.readiness(), Err("caches not synced yet"));
        health.set_synced(true);
        assert_eq!(health.readiness(), Ok("leader, caches synced"));
        health.set_election(Election::Released);
        assert!(health.readiness().is_err());
    }
}
