//! Waiting for a TestJob's final phase with a watch on it (no polling), and the exit code its
//! outcome maps to.

use std::time::Duration;

use futures::StreamExt;
use kube::{
    Api,
    runtime::watcher::{self, Event},
};
use tokio::sync::watch;

use super::{
    client::Connection,
    errors::{EXIT_CANCELLED, EXIT_NOT_RUN, EXIT_PASSED, EXIT_TESTS_FAILED, PluginError},
    output,
};
use crate::{
    crd::{Phase, TestJob},
    outcome::reason,
};

/// The exit code of a finished job: 0 succeeded, 1 the runner ran and failed its tests, 3
/// cancelled, 2 anything else (it could not run).
pub fn exit_code(job: &TestJob) -> u8 {
    match job.status.as_ref().and_then(|s| s.phase) {
        Some(Phase::Succeeded) => EXIT_PASSED,
        Some(Phase::Cancelled) => EXIT_CANCELLED,
        Some(Phase::Failed) if output::reason(job).as_deref() == Some(reason::TESTS_FAILED) => {
            EXIT_TESTS_FAILED
        }
        _ => EXIT_NOT_RUN,
    }
}

fn is_final(job: &TestJob) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(Phase::is_terminal)
}

/// Watches `name` until it reaches a final phase and returns it. Every version seen is sent to
/// `seen` (the log follower uses it to find the current runner Pod).
pub async fn until_final(
    connection: &Connection,
    namespace: &str,
    name: &str,
    seen: Option<&watch::Sender<Option<TestJob>>>,
) -> Result<TestJob, PluginError> {
    let api: Api<TestJob> = Api::namespaced(connection.client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(api, config).boxed();
    let mut failures = 0u32;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(job) | Event::InitApply(job)) => {
                failures = 0;
                if let Some(seen) = seen {
                    seen.send_replace(Some(job.clone()));
                }
                if is_final(&job) {
                    return Ok(job);
                }
            }
            Ok(Event::Delete(_)) => {
                return Err(PluginError::other(format!(
                    "testjob {name} was deleted before it finished"
                )));
            }
            Ok(Event::Init | Event::InitDone) => {}
            Err(error) => {
                // Refusals (Forbidden, NotFound …) will not go away; anything else (a dropped
                // connection, an expired watch) is retried: the watcher re-lists on its own.
                if let Some(refusal) = refusal(&error, connection) {
                    return Err(refusal);
                }
                failures += 1;
                let pause = Duration::from_millis(250 * 2u64.pow(failures.min(7)));
                if failures > 8 {
                    return Err(PluginError::other(format!(
                        "watching testjob {name}: {}",
                        super::errors::chain(&error)
                    )));
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
    Err(PluginError::other(format!(
        "the watch on testjob {name} ended"
    )))
}

/// The error to give up with, when the API refused the watch for good.
fn refusal(error: &watcher::Error, connection: &Connection) -> Option<PluginError> {
    let inner = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        _ => return None,
    };
    match inner {
        kube::Error::Api(status) if matches!(status.code, 401 | 403 | 404) => Some(
            PluginError::from_kube(kube::Error::Api(status.clone()), &connection.url),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(phase: &str, reason: &str) -> TestJob {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "j"}, "spec": {"testId": 1},
            "status": {"phase": phase, "conditions": [{"type": phase, "status": "True",
                "reason": reason, "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn outcomes_map_to_exit_codes() {
        assert_eq!(exit_code(&job("Succeeded", "TestsPassed")), 0);
        assert_eq!(exit_code(&job("Failed", "TestsFailed")), 1);
        for reason in [
            "CreateContainerConfigError",
            "PodDeleted",
            "Timeout",
            "OOMKilled",
            "ReportLost",
        ] {
            assert_eq!(exit_code(&job("Failed", reason)), 2, "{reason}");
        }
        assert_eq!(exit_code(&job("Cancelled", "Cancelled")), 3);
        assert_eq!(exit_code(&job("Running", "PodCreated")), 2);
    }
}
